"""The Jobs panel: every long task (training, evaluation, reproduce, export) with its phase, progress, ETA and place
in the queue, read from `$PLAYGROUND_HOME/jobs`; cancel or resume one. The tabs that start jobs use `job_html` to
show the job they started, so what a tab shows and what this panel shows come from the same record.
"""

import gradio as gr

from playground.common import clear_warning, escape, fmt_duration, notice
from playground.workspace import owned
from trainers import jobs, runs
from trainers.mode import public_mode
from trainers.names import scrub
from trainers.owners import may_change, may_see

JOB_HEADERS = ["job", "kind", "status", "phase", "progress", "ETA", "time", "queue", "runs", "error"]
SHOWN_JOBS = 12


def queue_state():
    from trainers.job_queue import QUEUE

    return QUEUE, QUEUE.waiting()


def progress_text(record: dict) -> str:
    p = record.get("progress") or {}
    if not p.get("total"):
        return f"{p.get('done') or 0:g} {p.get('unit', '')}".strip() if p.get("done") else ""
    return f"{p.get('done') or 0:g}/{p['total']:g} {p.get('unit', '')}".strip()


def phase_text(record: dict) -> str:
    p = record.get("progress") or {}
    phases = record.get("phases") or []
    if len(phases) <= 1:
        return p.get("phase") or ""
    index = p.get("phase_index")
    if index is None:
        index = next((i for i, ph in enumerate(phases) if ph["status"] != "completed"), len(phases) - 1)
    return f"{phases[index]['name']} ({index + 1}/{len(phases)})"


def eta_text(record: dict) -> str:
    return fmt_duration(record.get("eta_s")) if record.get("status") == "running" and record.get("eta_s") else "-"


def time_text(record: dict) -> str:
    """What the job took against what was predicted before it started; only the prediction while it runs."""
    from trainers.timing import describe_outcome, fmt_seconds

    if record.get("measured_s") is not None:
        return describe_outcome(record)
    return f"estimated {fmt_seconds(record['estimated_s'])}" if record.get("estimated_s") is not None else "-"


def position_text(record: dict, waiting: list[str]) -> str:
    position = jobs.queue_position(record, waiting)
    if position is None:
        return "-"
    if position == 0:
        return "running"
    queue, _ = queue_state()
    ahead = queue.ahead_of(record["id"])
    return f"{ahead} ahead of you" if public_mode() else f"{position} in line"


def visible_job(job_id: str | None, owner: str | None) -> dict | None:
    """The job's record for a tab following it, None when there is no such job or it is another workspace's (whose
    id shows nothing at all, not even progress)."""
    try:
        record = jobs.read_job(job_id) if job_id else None
    except (OSError, ValueError):
        return None
    return record if record is not None and may_see(record, owner) else None


def job_html(job_id: str | None) -> str:
    """A progress bar with the job's status, phase, progress, ETA and queue position, for the tab that started it."""
    if not job_id:
        return ""
    try:
        record = jobs.read_job(job_id)
    except (OSError, ValueError):
        return f"<div class='pg-progress-text'>job <code>{escape(job_id)}</code> not found</div>"
    _, waiting = queue_state()
    p = record.get("progress") or {}
    pct = 100 if record["status"] == "completed" else min(100, 100 * (p.get("done") or 0) / p["total"]) if p.get(
        "total") else 0
    wait = ""
    if record["status"] == "queued":
        wait = f" · {position_text(record, waiting)}: waits for the job ahead of it"
    if jobs.cancel_requested(job_id) and record["status"] in ("queued", "running"):
        wait += " · cancelling"
    error = f"<div class='pg-progress-text'>⚠️ {escape(scrub(record['error']))}</div>" if record.get("error") else ""
    timing = time_text(record)
    return (f"<div class='pg-progress'><div class='pg-bar pg-{escape(record['status'])}' style='width:{pct:.0f}%'>"
            f"</div></div><div class='pg-progress-text'>job <code>{escape(job_id)}</code> · "
            f"<b>{escape(record['status'])}</b> · {escape(phase_text(record))} · {escape(progress_text(record))} · "
            f"ETA {eta_text(record)}{escape(wait)}{' · ' + escape(timing) if timing != '-' else ''}</div>{error}")


def jobs_table(owner: str | None = None) -> list[list]:
    """The jobs `owner` may see (every job in local mode); others' jobs count only in "n ahead of you"."""
    _, waiting = queue_state()
    mine = [r for r in jobs.list_jobs() if may_see(r, owner)]
    return [[r["id"], r["kind"], r["status"], phase_text(r), progress_text(r), eta_text(r), time_text(r),
             position_text(r, waiting), ", ".join(runs.label_of(i) for i in r.get("run_ids") or []),
             scrub(r.get("error") or "")[:120]] for r in mine[:SHOWN_JOBS]]


def header_job_text(owner: str | None = None) -> str:
    """One line for the header: the running job and how many wait (in public mode others' jobs only as a count)."""
    queue, waiting = queue_state()
    current = queue.active()
    if not current:
        return "idle" + (f" · {len(waiting)} queued" if waiting else "")
    try:
        record = jobs.read_job(current)
    except (OSError, ValueError):
        return "starting"
    if not may_see(record, owner):
        mine = [j for j in waiting if may_see(_read(j), owner)]
        return "busy with another workspace's job" + (
            f" · your next job has {queue.ahead_of(mine[0])} ahead of you" if mine else
            f" · {len(waiting)} queued" if waiting else "")
    eta = eta_text(record)
    return (f"{record['kind']} `{current}` · {phase_text(record)} · {progress_text(record) or 'starting'}"
            + (f" · ETA {eta}" if eta != "-" else "") + (f" · {len(waiting)} queued" if waiting else ""))


def _read(job_id: str) -> dict:
    try:
        return jobs.read_job(job_id)
    except (OSError, ValueError):
        return {}


def own_job(job_id, owner: str) -> str:
    """"" when this workspace may change the job, else why not (the same words whether it exists or not)."""
    record = _read(str(job_id).strip()) if isinstance(job_id, str) else {}
    return "" if record and may_change(record, owner) else f"job: '{job_id}' is not one of your jobs"


def cancel_job(job_id: str, owner: str = "local") -> str:
    queue, _ = queue_state()
    if not job_id:
        return notice("Pick a job to cancel.")
    refused = own_job(job_id, owner)
    if refused:
        return notice(f"Not cancelled: {refused}")
    try:
        outcome = queue.cancel(job_id.strip())
    except (ValueError, OSError) as err:
        return notice(f"Not cancelled: {err}")
    if outcome == "cancelled":
        return notice(f"Cancelled {job_id} before it started.", "info")
    return notice(f"Cancelling {job_id}: a training stops after its current step and saves what it trained.", "info")


def resume_job(job_id: str, owner: str = "local") -> str:
    from trainers.job_queue import JobBusy

    queue, _ = queue_state()
    if not job_id:
        return notice("Pick a job to resume.")
    refused = own_job(job_id, owner)
    if refused:
        return notice(f"Not resumed: {refused}")
    try:
        record = queue.resume(job_id.strip())
    except (JobBusy, ValueError, OSError) as err:
        return notice(f"Not resumed: {err}")
    done = sum(p["status"] == "completed" for p in record["phases"])
    return notice(f"Queued {job_id} again; {done} of {len(record['phases'])} phases were already done and are kept.",
                  "info")


def create_jobs_panel():
    with gr.Accordion("Jobs: what is running and what waits", open=False, elem_id="jobs-panel"):
        # filled by the timer, which knows whose page this is
        table = gr.Dataframe(headers=JOB_HEADERS, interactive=False, wrap=True, max_height=300, elem_id="jobs-table")
        with gr.Row(equal_height=True):
            job = gr.Textbox(label="Job id", scale=3, elem_id="jobs-pick", placeholder="copy a job id from the table")
            cancel_btn = gr.Button("Cancel job", size="sm", variant="stop", elem_id="jobs-cancel")
            resume_btn = gr.Button("Resume job", size="sm", elem_id="jobs-resume")
            refresh_btn = gr.Button("Refresh", size="sm", elem_id="jobs-refresh")
        message = gr.Markdown(elem_id="jobs-message")
        timer = gr.Timer(3.0)
    timer.tick(owned(jobs_table), None, table, show_progress="hidden", queue=False)
    refresh_btn.click(owned(jobs_table), None, table, show_progress="hidden", api_name="list_jobs")
    cancel_btn.click(owned(cancel_job), job, message, api_name="cancel_job")
    resume_btn.click(owned(resume_job), job, message, api_name="resume_job")
    table.select(pick_job, None, job)
    job.change(clear_warning, message, message, show_progress="hidden", queue=False)
    return table


def pick_job(evt: gr.SelectData):
    return evt.row_value[0] if evt.row_value else gr.skip()
