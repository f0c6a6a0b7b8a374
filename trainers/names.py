"""Names, not paths, in public mode: what a visitor may type where the app expects a dataset, a model or a run, and
messages with no server path in them.

    dataset_reference("stage1_sft", owner)       # a starter -> "assets/datasets/stage1_sft.jsonl"
    dataset_reference("mine", owner)             # a saved dataset of this workspace -> "saved:<owner>/mine"
    dataset_reference("user/name", owner)        # a Hub dataset id, as it is
    check_model_name("Qwen/Qwen2.5-0.5B")        # a registry name or a Hub id; NameRefused for a path
    visible_run("2026...-stage3-lora", owner)    # the run record, if this workspace may use it
    scrub("could not read /srv/app/x.jsonl")     # "could not read <server path>" in public mode

A refusal never depends on whether a path exists, so the answers reveal nothing about the server's disk: a name
shaped like a Hub id (`user/name`) is looked up on the Hub only, never on disk (`hub_only`: trainers.data,
trainers.models and trainers.sft_core skip their local lookups for it), and anything else that is not a starter or
a saved name is refused with the same words. In local mode paths are allowed and these return what they are given.
"""

import re
from pathlib import Path

from trainers.mode import public_mode
from trainers.paths import ASSETS, datasets_dir

HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}")
SAVED_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# an absolute path (or ~/...) not inside a word, a Hub id or a URL
ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~-])(?:~?/)[^\s'\"`,;:)\]]+")


class NameRefused(ValueError):
    """A name field holding something other than a name this workspace may use; the message says what is expected."""


def starters() -> dict[str, str]:
    """{name: repo-relative path} of the starter datasets the project ships."""
    return {p.stem: str(p.relative_to(ASSETS.parent)) for p in sorted((ASSETS / "datasets").glob("*.jsonl"))}


def saved_folder(owner: str) -> Path:
    """Where this workspace's saved datasets live: one folder per workspace in public mode."""
    folder = datasets_dir() / owner if public_mode() else datasets_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


SAVED = "saved:"  # a saved dataset's reference: `saved:<owner>/<name>`, which is not a Hub id and not a path


def hub_only(name) -> bool:
    """In public mode a Hub-id-shaped name means the Hub: the loaders must not look for it on disk."""
    return public_mode() and bool(HUB_ID.fullmatch(str(name)))


def saved_path(reference: str) -> Path | None:
    """The file a `saved:<owner>/<name>` reference names (None for anything else)."""
    if not str(reference).startswith(SAVED):
        return None
    owner, _, name = reference[len(SAVED):].partition("/")
    if not (SAVED_NAME.fullmatch(owner) and SAVED_NAME.fullmatch(name)):
        return None
    return datasets_dir() / owner / f"{name}.jsonl"


def dataset_reference(value: str, owner: str, field: str = "dataset") -> str:
    """What the config records for a dataset a visitor named: a starter's repo path, `saved:<owner>/<name>` for a
    saved one (found under datasets/ by the worker), or a Hub id. In local mode, the value itself."""
    value = str(value or "").strip()
    if not public_mode():
        return value
    shipped = starters()
    if value in shipped or value in shipped.values():
        return shipped.get(value, value)
    if SAVED_NAME.fullmatch(value) and (saved_folder(owner) / f"{value}.jsonl").is_file():
        return f"{SAVED}{owner}/{value}"
    if HUB_ID.fullmatch(value):
        return value
    raise NameRefused(f"{field}: '{value}' is not a starter ({', '.join(shipped)}), one of your saved datasets or a "
                      "Hugging Face dataset id (user/name)")


def hub_model_miss(name: str) -> str:
    """The words trainers.models uses for a Hub id it cannot find; an unreadable Hub model reads the same."""
    from trainers.models import _offline

    if _offline():
        return f"model '{name}' is not in the local Hugging Face cache and the Hub is offline"
    return f"model '{name}' could not be found on the Hugging Face Hub"


def check_model_name(name: str, field: str = "base_model") -> str:
    """A registry name or a Hub id in public mode (NameRefused otherwise); any name in local mode."""
    from trainers.models import REGISTRY

    name = str(name or "").strip()
    if not public_mode() or name in REGISTRY:
        return name
    if HUB_ID.fullmatch(name):
        return name
    raise NameRefused(f"{field}: '{name}' is not a registered model ({', '.join(REGISTRY)}) or a Hugging Face model "
                      "id (user/name)")


def visible_run(run_id: str, owner: str, field: str = "run") -> dict:
    """The run record when `run_id` names a run this workspace may use; NameRefused (the same sentence whether the
    run exists or not) otherwise. In local mode a missing run is refused the same way."""
    from trainers import runs
    from trainers.owners import may_see

    try:
        record = runs.read_run(str(run_id))
    except (OSError, ValueError):
        record = None
    if record is None or not may_see(record, owner):
        raise NameRefused(f"{field}: '{run_id}' is not " + ("one of your runs" if public_mode() else "a run"))
    return record


def scrub(text) -> str:
    """The message without absolute server paths, in public mode (the repo's own relative paths stay)."""
    text = "" if text is None else str(text)
    return ABSOLUTE_PATH.sub("<server path>", text) if public_mode() else text


def apply_to_config(config, owner: str) -> list[str]:
    """Public mode: the config's dataset becomes its reference, and a path in base_model or init_from is refused.
    Returns the refusals (one line each); the config is changed in place."""
    if not public_mode():
        return []
    problems = []
    try:
        config.dataset = dataset_reference(config.dataset, owner)
    except NameRefused as err:
        problems.append(str(err))
    try:
        check_model_name(config.base_model)
    except NameRefused as err:
        problems.append(str(err))
    if config.init_from:
        try:
            visible_run(config.init_from, owner, "init_from")
        except NameRefused as err:
            problems.append(str(err))
    return problems
