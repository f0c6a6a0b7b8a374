"""Lesson tab: the stages in order for a class. Before class, "Prepare the lesson" queues the class preset as one job
(evalsuite/lesson.py: train Stage 1, Stage 2 and LoRA, evaluate them and the base, judge the seed's claims); in
class, each step says what to do, what to notice and shows the measured result to point at, and one stage can be
retrained live with a preset of a dozen steps. Everything shown comes from the job and run records on disk.
"""

import json
from datetime import datetime
from pathlib import Path

import gradio as gr

from evalsuite.lesson import LESSON_LIMIT, LESSON_PRESET
from playground import resources
from playground.common import clear_warning, escape, notice
from playground.jobs_panel import job_html
from playground.workspace import owned
from trainers.owners import may_see
from trainers.paths import home
from trainers.runs import label_of
from trainers.timing import describe_job
from trainers.validate import form_number

STEPS = (
    ("Stage 1", "1 · Plain SFT",
     "**Do:** open Train, pick *1 · SFT*, start it (or use the prepared run). Then ask the trained run a task in "
     "its training phrasing and in another phrasing, in Compare or the Paraphrase test.",
     "**Notice:** the loss falls fast; the trained phrasing works, reworded requests often do not."),
    ("Stage 2", "2 · Instruction tuning",
     "**Do:** the same with *2 · Instruction tuning*: many phrasings, a random prompt template per row.",
     "**Notice:** answers should hold across phrasings and templates, including held-out ones (the Paraphrase "
     "heatmap's columns), not just a lower loss."),
    ("Stage 3", "3 · LoRA",
     "**Do:** train *3 · LoRA* and open Runs: trainable share, peak memory and adapter size next to full SFT's.",
     "**Notice:** about 1-4% of the weights train, memory drops, the adapter is megabytes, and the base's knowledge "
     "should survive (Compare base vs adapter)."),
)


def _out_dir():
    return home() / "lesson" / datetime.now().strftime("%Y%m%d-%H%M%S")


def prepare_lesson(steps, limit, base_model: str | None = None, owner: str = "local"):
    """Queue the class preset as one job: (message, job id)."""
    from evalsuite.lesson import submit_lesson
    from trainers.job_queue import JobBusy
    from trainers.names import check_model_name

    steps, problem = form_number("steps", steps or 0, minimum=0)
    limit, problem = (limit, problem) if problem else form_number("limit", limit or 0, minimum=0)
    if problem:
        return notice(problem), gr.skip()
    try:
        base = check_model_name(str(base_model or resources.default_base()).strip())
        job = submit_lesson(_out_dir(), base, steps, limit or LESSON_LIMIT, owner=owner)
    except (JobBusy, ValueError, OSError) as err:
        return notice(f"Not started: {err}"), gr.skip()
    return (f"Preparing the lesson as job `{job['id']}` ({describe_job(job)}): three trainings, an evaluation and "
            "the verdicts. Run it before class; each step below fills in when it is done."), job["id"]


def live_retrain(stage: str, base_model: str | None = None, owner: str = "local"):
    """One stage again, with the short live preset: (message, job id)."""
    from evalsuite.lesson import submit_live_retrain
    from trainers.job_queue import JobBusy
    from trainers.names import check_model_name

    try:
        base = check_model_name(str(base_model or resources.default_base()).strip())
        run_id, job = submit_live_retrain(str(stage), base, owner=owner)
    except (JobBusy, ValueError, OSError) as err:
        return notice(f"Not started: {str(err).splitlines()[0]}"), gr.skip()
    return (f"Retraining {stage} live: {label_of(run_id)}, run `{run_id}` (job `{job['id']}`, {describe_job(job)}); "
            "the Train tab shows its loss curve."), job["id"]


def prepare_estimate(steps, limit, base_model: str | None = None) -> str:
    """What Prepare will cost before it is pressed, from this machine's calibration (trainers/timing.py)."""
    from evalsuite.lesson import lesson_phases
    from trainers.timing import describe, safe_estimate

    limit = int(limit) if limit and int(limit) > 0 else LESSON_LIMIT
    base = (base_model or resources.default_base()).strip()
    estimate = safe_estimate(lesson_phases(home() / "lesson" / "estimate", base, max(int(steps or 0), 0), limit))
    return f"**Time to prepare:** {describe(estimate)}."


def live_estimate(stage: str, base_model: str | None = None) -> str:
    """What a live retrain of `stage` will cost, so a teacher knows whether it fits the minute they have."""
    from evalsuite.lesson import live_config
    from trainers import jobs
    from trainers.config import to_dict
    from trainers.timing import describe, safe_estimate

    try:
        config = live_config(stage, (base_model or resources.default_base()).strip())
    except ValueError as err:
        return notice(str(err), toast=False)
    estimate = safe_estimate([jobs.phase("train", "train", config=to_dict(config))])
    return f"**Live retrain of {stage}:** {describe(estimate)}."


def step_results(claims: list[dict]) -> list[str]:
    """For each step, the measured claims of its stage with their verdicts."""
    out = []
    for stage, *_ in STEPS:
        mine = [c for c in claims if str(c.get("stage", "")).startswith(stage)]
        lines = [f"- **{escape(c.get('verdict'))}**: {escape(c.get('claim'))}: {escape(c.get('evidence'))}"
                 for c in mine]
        out.append("**Measured on the prepared runs:**\n" + "\n".join(lines) if lines else
                   "_Not measured yet: prepare the lesson, or train this stage and evaluate it._")
    return out


def follow_lesson(job_id: str | None, shown: str | None, owner: str | None = None):
    """Timer tick: the preparation's progress and phases, then each step's results, drawn once."""
    from playground.evaluate_tab import phases_table
    from trainers import jobs

    skip = (gr.skip(),) * (2 + len(STEPS))
    if not job_id:
        return "", *skip
    try:
        record = jobs.read_job(job_id)
    except (OSError, ValueError):
        return job_html(job_id), *skip
    if not may_see(record, owner):
        return "", *skip
    if record["status"] != "completed" or shown == job_id:
        return job_html(job_id), phases_table(record), *(gr.skip(),) * (1 + len(STEPS))
    claims = json.loads(Path(record["result"]["claims"]).read_text()).get("claims", [])
    return job_html(job_id), phases_table(record), job_id, *step_results(claims)


def latest_lesson(job_id: str | None, owner: str | None = None):
    from trainers import jobs

    return job_id or next((r["id"] for r in jobs.list_jobs() if r["kind"] == "lesson" and may_see(r, owner)), None)


def create_lesson_tab():
    """The lesson runs on the app's base model (PLAYGROUND_BASE_MODEL, default the embedded one)."""
    with gr.Tab("Lesson", id="lesson") as tab:
        gr.Markdown("**A class in three stages.** Prepare once before class (on a 2-core CPU it takes minutes); "
                    "then walk the steps in order. Every number below is measured on runs made on this machine.")
        with gr.Row():
            prepare_btn = gr.Button("Prepare the lesson (queues the class preset)", variant="primary",
                                    elem_id="lesson-prepare")
            job = gr.Textbox(label="Preparation job", interactive=False, max_lines=1, elem_id="lesson-job")
        with gr.Accordion("Preset settings", open=False):
            with gr.Row():
                steps = gr.Number(0, label=f"Training steps per stage (0 = the class preset's "
                                  f"{LESSON_PRESET['max_steps']})", precision=0, minimum=0, elem_id="lesson-steps")
                limit = gr.Number(0, label=f"Suite queries (0 = the preset's {LESSON_LIMIT})", precision=0, minimum=0,
                                  elem_id="lesson-limit")
        estimate = gr.Markdown(elem_id="lesson-estimate")
        message = gr.Markdown(elem_id="lesson-message")
        progress = gr.HTML(elem_id="lesson-progress")
        phases = gr.Dataframe(headers=["phase", "status", "run / report", "error"], label="Preparation phases",
                              interactive=False, wrap=True, elem_id="lesson-phases")
        results = []
        for n, (_, title, do, see) in enumerate(STEPS, start=1):
            with gr.Group():
                gr.Markdown(f"### Step {n}: {title}\n{do}\n\n{see}")
                results.append(gr.Markdown("_Not measured yet: prepare the lesson._", elem_id=f"lesson-result-{n}"))
        with gr.Row(equal_height=True):
            stage = gr.Radio(["stage1", "stage2", "lora"], value="stage1", label="Retrain one stage live",
                             elem_id="lesson-live-stage", scale=2)
            live_btn = gr.Button("Retrain live", elem_id="lesson-live")
            live_job = gr.Textbox(label="Live job", interactive=False, max_lines=1, elem_id="lesson-live-job")
        live_estimate_box = gr.Markdown(elem_id="lesson-live-estimate")
        live_message = gr.Markdown(elem_id="lesson-live-message")
        live_progress = gr.HTML(elem_id="lesson-live-progress")
        shown = gr.State(None)
        timer = gr.Timer(2.0)
    prepare_btn.click(owned(prepare_lesson), [steps, limit], [message, job], api_name="prepare_lesson")
    live_click = live_btn.click(owned(live_retrain), [stage], [live_message, live_job], api_name="live_retrain")
    gr.on([steps.change, limit.change], prepare_estimate, [steps, limit], estimate, trigger_mode="always_last",
          show_progress="hidden")
    stage.change(live_estimate, stage, live_estimate_box, trigger_mode="always_last", show_progress="hidden")
    gr.on([steps.change, limit.change], clear_warning, message, message, show_progress="hidden", queue=False)
    stage.change(clear_warning, live_message, live_message, show_progress="hidden", queue=False)
    tab.select(owned(attach_lesson), [job, steps, limit, stage], [job, estimate, live_estimate_box],
               show_progress="hidden")
    timer.tick(owned(follow_lesson), [job, shown], [progress, phases, shown, *results], show_progress="hidden",
               queue=False)
    timer.tick(job_html, live_job, live_progress, show_progress="hidden", queue=False)
    return {"attach": (owned(attach_lesson), [job, steps, limit, stage], [job, estimate, live_estimate_box]),
            "live_click": live_click, "live_job": live_job}


def attach_lesson(job_id: str | None, steps, limit, stage: str, owner: str | None = None):
    """Page load (this is the first tab) or the tab opened: the newest preparation of this workspace, and the times
    of both buttons from the calibration as it is now."""
    return latest_lesson(job_id, owner), prepare_estimate(steps, limit), live_estimate(stage)


def run_of_job(job_id: str | None):
    """The run a training job trains: what the Train tab should follow after a live retrain."""
    from trainers import jobs

    try:
        return (jobs.read_job(job_id).get("run_ids") or [gr.skip()])[-1] if job_id else gr.skip()
    except (OSError, ValueError):
        return gr.skip()
