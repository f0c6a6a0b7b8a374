"""Small helpers the tabs share: run and dataset choices for dropdowns, number formatting, visible messages."""

import html
import os
from pathlib import Path

import gradio as gr

from trainers import runs
from trainers.adapters import BASE, compatibility_problem  # noqa: F401 (re-exported: the evaluate tab imports it here)
from trainers.mode import public_mode
from trainers.names import NameRefused, saved_folder, scrub, starters, visible_run
from trainers.owners import is_example, may_see
from trainers.paths import ASSETS, datasets_dir

REPO = ASSETS.parent
BASE_TARGET = BASE  # the old spelling, still imported by tabs that other work is rewriting


def notice(text: str, kind: str = "warning", toast: bool = True) -> str:
    """A message that stays visible in the tab (a Markdown string) and also pops up as a toast (not for what
    recomputes as the user types: one toast per keystroke would bury the page). In public mode any absolute server
    path in it is masked."""
    text = scrub(text)
    if kind == "warning":
        if toast:
            gr.Warning(text)
        return f"**⚠️ {text}**"
    if kind == "info":
        gr.Info(text)
    return f"✓ {text}" if kind == "info" else text


def is_warning(text) -> bool:
    """Is this a message notice() made for a problem (what a later edit or success should clear)?"""
    return isinstance(text, str) and text.startswith("**⚠️")


def clear_warning(text):
    """"" for a stale warning, else leave the message alone: wired to the inputs the warning was about."""
    return "" if is_warning(text) else gr.skip()


def escape(text) -> str:
    return html.escape("" if text is None else str(text))


def repo_relative(path) -> str:
    """A path as the CLI would take it: relative to the repository when the app runs from there."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path.cwd())) if Path.cwd() == REPO else str(path)
    except ValueError:
        return str(path)


def dataset_choices(owner: str | None = None, formats: tuple[str, ...] | None = None) -> list[tuple[str, str]]:
    """Starter datasets shipped in assets/ and the datasets `owner` saved from the Data tab (in local mode: every
    saved one, in $PLAYGROUND_HOME/datasets); with `formats`, only files whose rows have one of them (a stage's
    accepted formats). Public mode offers starters by name, never by path."""
    from trainers.data import file_format

    if public_mode():
        starter = [(f"starter: {name}", name, ASSETS / "datasets" / f"{name}.jsonl") for name in starters()]
        folder = saved_folder(owner) if owner else None
    else:
        starter = [(f"starter: {p.stem}", repo_relative(p), p) for p in sorted((ASSETS / "datasets").glob("*.jsonl"))]
        folder = datasets_dir()
    paths = sorted(folder.glob("*.jsonl"), key=os.path.getmtime, reverse=True) if folder else []
    listed = [(f"saved: {p.stem}", p.stem, p) for p in paths] + starter
    return [(label, value) for label, value, path in listed if formats is None or file_format(path) in formats]


def safe_list_runs(owner: str | None = None) -> list[dict]:
    """Every run `owner` may see (local mode: every run), newest first."""
    try:
        return [r for r in runs.list_runs() if may_see(r, owner)]
    except OSError:
        return []


def labelled(records: list[dict]) -> dict[str, str]:
    """{run id: label} for runs listed together; in public mode a shared example says it is one."""
    labels = runs.run_labels(records)
    if public_mode():
        labels = {r["id"]: labels[r["id"]] + (" · shared example, read-only" if is_example(r) else "")
                  for r in records}
    return labels


def run_choices(statuses: tuple[str, ...] | None = None, methods: tuple[str, ...] | None = None,
                owner: str | None = None):
    """(label, run id) for a dropdown, newest first, optionally only some statuses / methods."""
    records = [r for r in safe_list_runs(owner) if (statuses is None or r.get("status") in statuses)
               and (methods is None or r.get("method") in methods)]
    labels = labelled(records)
    return [(labels[r["id"]], r["id"]) for r in records]


def model_targets(owner: str | None = None) -> list[tuple[str, str]]:
    """What chat, compare, paraphrase and evaluate can talk to: the base and every run `owner` may see with a saved
    model."""
    usable = [r for r in safe_list_runs(owner) if r.get("artifact_dir") and Path(r["artifact_dir"]).is_dir()]
    labels = labelled(usable)
    return [("base model", BASE)] + [(labels[r["id"]], r["id"]) for r in usable]


def target_label(target: str) -> str:
    """A chat / compare target as a person reads it: "base model", a run's label, or the folder given."""
    return "base model" if target == BASE else runs.label_of(target)


def refresh_targets(chosen: list[str] | None = None, owner: str | None = None):
    """A targets picker's choices for this workspace, keeping what is still there of what was chosen."""
    choices = model_targets(owner)
    values = {v for _, v in choices}
    return gr.update(choices=choices, value=[c for c in chosen or [] if c in values] or [BASE])


def usable_hub(base_model: str | None):
    """(the resident hub for this base, "") or (None, why not in one sentence)."""
    from playground import resources

    try:
        return resources.get_hub(base_model), ""
    except (ValueError, OSError) as err:  # ModelNotFound, NameRefused, CapExceeded
        return None, str(err).splitlines()[0]


def target_problem(hub, target: str, owner: str | None) -> str:
    """Why this workspace cannot talk to `target` on this hub ("" when it can): in public mode only its own runs and
    the shared examples, never a folder; then whether the run fits the base."""
    if target != BASE and public_mode():
        try:
            visible_run(target, owner, "model")
        except NameRefused as err:
            return str(err)
    return compatibility_problem(hub, target)


def targets_picker(elem_id: str, label: str = "Models", **kwargs) -> gr.Dropdown:
    """A multi-select of the base and finished runs. Custom values are allowed so API clients can name runs made
    after the page was built (the functions check every name and say which ones they cannot use)."""
    return gr.Dropdown(model_targets(), value=[BASE], multiselect=True, allow_custom_value=True, label=label,
                       elem_id=elem_id, info="the base model and any finished run", **kwargs)


def fmt_int(value) -> str:
    return f"{int(value):,}" if isinstance(value, (int, float)) else "-"


def fmt_float(value, digits: int = 1) -> str:
    return f"{value:,.{digits}f}" if isinstance(value, (int, float)) else "-"


def fmt_params(value) -> str:
    if not isinstance(value, (int, float)):
        return "-"
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:.2f}{unit}"
    return str(int(value))


def fmt_duration(seconds) -> str:
    if not isinstance(seconds, (int, float)):
        return "-"
    seconds = int(round(seconds))
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
