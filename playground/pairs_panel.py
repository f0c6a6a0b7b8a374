"""The Data tab's "Preference pairs from a model's own answers": pick a model (a finished run or the base) and a set of
prompts with a check, sample several answers per prompt, keep (passing, failing) pairs judged by the suite's
checkers, and save them as a dataset the Train tab's Stage 4 DPO preset trains on.

Building is a job (trainers.submit.submit_pairs -> the `pairs` phase): Build returns the job id at once and the
panel's timer follows the job record, showing the stats and the first pairs when it ends, so a refresh re-attaches.
"""

import json
from pathlib import Path

import gradio as gr

from playground import resources
from playground.common import BASE_TARGET, clear_warning, dataset_choices, escape, notice, run_choices, target_label
from playground.jobs_panel import job_html, visible_job
from playground.workspace import owned
from trainers.mode import public_mode
from trainers.names import NameRefused, dataset_reference, scrub, starters
from trainers.owners import may_see
from trainers.pairs import SAMPLES
from trainers.timing import describe_job
from trainers.validate import form_number

STARTER = "grpo_prompts"  # the shipped prompts with a check (assets/datasets/grpo_prompts.jsonl)
PREVIEW_HEADERS = ["prompt", "chosen (passed its check)", "rejected (failed it)"]
STATS = (("prompts", "prompts"), ("answers", "answers"), ("passed", "distinct answers passed"),
         ("failed", "failed"), ("all_pass", "prompts all pass"), ("all_fail", "all fail"),
         ("skipped_code", "code prompts skipped"), ("pairs", "pairs"))


def model_choices(owner: str | None = None) -> list[tuple[str, str]]:
    """The base and every completed run this workspace may see."""
    return [(f"base model ({resources.default_base()})", BASE_TARGET)] + run_choices(("completed",), owner=owner)


def _is_prompt_set(value: str, owner: str | None) -> bool:
    """Does this dataset's first row look like {prompt, check}? (Build validates every row; this only keeps the
    dropdown to files of the right shape.)"""
    from trainers.sft_core import resolve_dataset

    try:
        path = Path(resolve_dataset(dataset_reference(value, owner or "anonymous")))
        with path.open(encoding="utf-8-sig") as f:
            row = json.loads(next((line for line in f if line.strip()), "null"))
    except (OSError, ValueError, NameRefused):
        return False
    return isinstance(row, dict) and "prompt" in row and isinstance(row.get("check"), dict)


def prompt_choices(owner: str | None = None) -> list[tuple[str, str]]:
    return [(label, value) for label, value in dataset_choices(owner) if _is_prompt_set(value, owner)]


def default_prompts() -> str:
    """The starter's value as the dropdown names it: its name in public mode, its repo path in local mode."""
    return STARTER if public_mode() else starters()[STARTER]


def build_pairs(target, prompts, samples, temperature, max_new_tokens, name, owner: str = "local"):
    """Queue the build as a job and return at once: (message, job id). Every bad value is refused here, naming the
    field and its limit, and no job is made."""
    from trainers.job_queue import JobBusy
    from trainers.names import saved_folder
    from trainers.submit import submit_pairs

    values, problem = {}, ""
    for field, value, whole in (("samples per prompt", samples, True), ("temperature", temperature, False),
                                ("max new tokens", max_new_tokens, True)):
        values[field], problem = form_number(field, value, whole=whole)
        if problem:
            return notice(f"Not started: {problem}"), gr.skip()
    target, name = str(target or "").strip(), str(name or "").strip()
    if not target:
        return notice("Not started: model: pick the base model or a finished run."), gr.skip()
    if not name:
        return notice("Not started: name: give the dataset a name to save the pairs under."), gr.skip()
    replaces = " It replaces your saved dataset of that name." if (
        saved_folder(owner) / f"{name}.jsonl").is_file() else ""
    try:
        job = submit_pairs(target, str(prompts or "").strip(), values["samples per prompt"], values["temperature"],
                           values["max new tokens"], name=name, base_model=resources.default_base(), owner=owner)
    except (JobBusy, ValueError, OSError) as err:  # NameRefused and CapExceeded are ValueErrors
        return notice(f"Not started: {str(err).splitlines()[0]}"), gr.skip()
    spec = job["phases"][0]["spec"]
    return (f"Building pairs from **{escape(target_label(target))}** as job `{job['id']}` ({describe_job(job)}): "
            f"{spec['n_prompts']} prompts × {spec['samples']} answers, saved as '{name}' when it ends.{replaces}"), \
        job["id"]


def stats_table(stats: dict) -> str:
    head = " | ".join(label for _, label in STATS)
    return f"| {head} |\n|{'---|' * len(STATS)}\n| " + " | ".join(f"{stats.get(k, 0):,}" for k, _ in STATS) + " |"


def _cell(text, limit: int = 200) -> str:
    text = str(text or "").strip()
    return text if len(text) <= limit else text[:limit] + "…"


def follow_pairs(job_id: str | None, shown: str | None, owner: str | None = None):
    """Timer tick: (progress, message, stats, preview, shown). The result once, when the job has ended; nothing at
    all of a job this workspace may not see."""
    skip = (gr.skip(),) * 4
    record = visible_job(job_id, owner)
    if record is None:
        return "", *skip
    progress = job_html(job_id)
    if shown == job_id or record["status"] not in ("completed", "failed"):
        return progress, *skip
    if record["status"] == "failed":
        error = (record["phases"][0].get("error") or record.get("error") or "the job failed").splitlines()[0]
        return progress, notice(f"No dataset saved: {error}", toast=False), "", gr.skip(), job_id
    result = record["result"]
    where = "" if public_mode() else f" (`{result['path']}`)"
    saved = f"as **saved: {escape(result['dataset'])}**{where}" if result.get("dataset") else \
        f"to `{result['path']}` (a CLI job)"  # `python -m trainers pairs --out FILE`, seen in local mode only
    message = (f"✓ Saved {result['stats']['pairs']:,} pairs {saved}. Train it with the Stage 4 DPO preset: pick "
               "stage4_dpo and this dataset in the Train tab.")
    preview = [[_cell(p["prompt"]), _cell(p["chosen"]), _cell(p["rejected"])] for p in result["preview"]]
    return progress, scrub(message), stats_table(result["stats"]), preview, job_id


def latest_pairs_job(job_id: str | None, owner: str | None = None):
    """Page load: follow this workspace's newest pairs job, so a refresh re-attaches to it."""
    from trainers import jobs

    if job_id:
        return job_id
    return next((r["id"] for r in jobs.list_jobs() if r["kind"] == "pairs" and may_see(r, owner)), None)


def refresh_choices(target, prompts, owner: str | None = None):
    """Tab select: runs finished and datasets saved since the page was built, keeping what was picked."""
    models, sets = model_choices(owner), prompt_choices(owner)
    keep = {v for _, v in models}
    return (gr.update(choices=models, value=target if target in keep else BASE_TARGET),
            gr.update(choices=sets, value=prompts if prompts in {v for _, v in sets} else default_prompts()))


def create_pairs_panel(tab) -> dict:
    """The accordion, built inside the Data tab; returns its page-load re-attach (fn, inputs, outputs)."""
    with gr.Accordion("Preference pairs from a model's own answers", open=False, elem_id="pairs-panel"):
        gr.Markdown("Each prompt is answered several times at a temperature above 0; the evaluation suite's check "
                    "scores every answer, and a prompt whose answers both pass and fail gives a pair: chosen = a "
                    "passing answer, rejected = a failing one. Prompts whose answers all pass or all fail are left "
                    "out (the stats count them).")
        with gr.Row():
            # custom values: runs and datasets made after the page was built (the build checks every name)
            model = gr.Dropdown(model_choices(), value=BASE_TARGET, label="Model", allow_custom_value=True,
                                elem_id="pairs-model", info="the base, or a finished run you may use")
            prompts = gr.Dropdown(prompt_choices(), value=default_prompts(), label="Prompts with a check",
                                  allow_custom_value=True, elem_id="pairs-prompts",
                                  info="{prompt, check} rows: the starter, or a saved dataset of that format")
        with gr.Row():
            samples = gr.Number(4, label="Samples per prompt", step=1, elem_id="pairs-samples",
                                info=f"{SAMPLES[0]} to {SAMPLES[1]}; more answers, more chances of a pass and a fail")
            temperature = gr.Number(1.0, label="Temperature", step=0.1, elem_id="pairs-temperature",
                                    info="above 0: the answers must differ")
            max_new = gr.Number(64, label="Max new tokens", step=1, elem_id="pairs-max-new")
            name = gr.Textbox(label="Save the pairs as", placeholder="my_pairs", elem_id="pairs-name")
        build_btn = gr.Button("Build preference pairs", variant="primary", elem_id="pairs-build")
        message = gr.Markdown(elem_id="pairs-message")
        job_id = gr.Textbox(label="Pairs job", interactive=False, max_lines=1, elem_id="pairs-job")
        progress = gr.HTML(elem_id="pairs-progress")
        stats = gr.Markdown(elem_id="pairs-stats")
        preview = gr.Dataframe(headers=PREVIEW_HEADERS, label="First pairs", interactive=False, wrap=True,
                               elem_id="pairs-preview")
        shown = gr.State(None)
        timer = gr.Timer(2.0)
    inputs = [model, prompts, samples, temperature, max_new, name]
    build_btn.click(owned(build_pairs), inputs, [message, job_id], api_name="build_pairs")
    gr.on([c.change for c in inputs], clear_warning, message, message, show_progress="hidden", queue=False)
    timer.tick(owned(follow_pairs), [job_id, shown], [progress, message, stats, preview, shown],
               show_progress="hidden", queue=False)
    tab.select(owned(refresh_choices), [model, prompts], [model, prompts], show_progress="hidden")
    return {"attach": (owned(latest_pairs_job), [job_id], [job_id])}
