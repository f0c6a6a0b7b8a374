"""Jobs: every long task (training, evaluation, reproduce, export) is a record on disk that any process can follow.

    $PLAYGROUND_HOME/jobs/<job_id>/job.json      the record, rewritten atomically
    $PLAYGROUND_HOME/jobs/<job_id>/events.jsonl  what happened, one JSON object a line (phase started, ended, ...)
    $PLAYGROUND_HOME/jobs/<job_id>/worker.log    what the worker processes printed
    $PLAYGROUND_HOME/jobs/<job_id>/cancel        present once someone asked the job to stop

A job is a list of phases (a training is one phase, `reproduce` seven); each phase runs in its own worker process
(trainers/worker.py) under the supervisor of trainers/job_queue.py, or in the foreground for the CLI. Writers take
turns: the supervisor writes the record before and after a phase, the worker while it runs, so no two processes
ever rewrite job.json at once. Cancel is a separate file for the same reason.

    python -m trainers jobs                       # every job with its status, phase, progress and ETA
"""

import json
import secrets
import threading
import time
from datetime import datetime
from pathlib import Path

from trainers import runs
from trainers.liveness import is_alive, process_identity
from trainers.paths import jobs_dir

STATUSES = runs.STATUSES
FINISHED = runs.FINISHED
JOB_KEYS = ("id", "kind", "status", "owner", "title", "created_at", "started_at", "ended_at", "progress", "eta_s",
            "run_ids", "result", "error", "estimated_s", "measured_s")
PROGRESS_EVERY_S = 0.5  # progress is rewritten at most this often (a training step can take 50 ms)


class Cancelled(Exception):
    """Raised inside a phase when its job was asked to stop."""


def new_job_id(kind: str) -> str:
    return f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{kind}-{secrets.token_hex(3)}"


def job_path(job_id: str) -> Path:
    if not isinstance(job_id, str) or not job_id or "/" in job_id or job_id.startswith(".") or "\\" in job_id:
        raise ValueError(f"'{job_id}' is not a job id")
    return jobs_dir() / job_id


def phase(name: str, kind: str, **spec) -> dict:
    """One step of a job: `kind` names the phase function (trainers/phases.py), `spec` its arguments."""
    return {"name": name, "kind": kind, "spec": spec, "status": "queued", "result": None, "error": "",
            "started_at": None, "ended_at": None}


PENDING = "pending"  # create_job(estimate=PENDING): the queue prices the job in the background (set_estimate)


def create_job(kind: str, phases: list[dict], owner: str = "local", title: str = "", run_ids=(),
               job_id: str | None = None, estimate: dict | str | None = None) -> dict:
    """A queued job. It carries the seconds trainers.timing predicts for it and each phase (`estimated_s`, None
    where this machine has not measured that kind of work yet; `estimate` when the caller has it already, PENDING
    when the queue prices it after answering the request); the supervisor adds `measured_s` when it ends."""
    from trainers.timing import safe_estimate

    job_id = job_id or new_job_id(kind)
    if estimate is None:
        estimate = safe_estimate(phases)  # before anything runs: what the job is measured against
    job_path(job_id).mkdir(parents=True)
    record = dict.fromkeys(JOB_KEYS)
    record.update(id=job_id, kind=kind, status="queued", owner=owner, title=title or kind, created_at=runs.now_iso(),
                  progress={"done": 0, "total": None, "unit": "", "phase": phases[0]["name"] if phases else ""},
                  run_ids=list(run_ids), result={}, error="", phases=phases, supervisor=process_identity(),
                  worker=None)
    _apply_estimate(record, estimate)
    write_job(record)
    append_event(job_id, event="queued", kind=kind, title=record["title"])
    return record


def _apply_estimate(record: dict, estimate: dict | str) -> None:
    if estimate == PENDING:
        for phase in record["phases"]:
            phase.update(estimated_s=None, timing_key=None)
        record.update(estimated_s=None, estimate={"pending": True, "missing": [], "calibrated_at": None,
                                                  "error": None})
        return
    for phase, predicted in zip(record["phases"], estimate["phases"], strict=True):
        phase.update(estimated_s=predicted["seconds"], timing_key=predicted["key"])
    record.update(estimated_s=estimate["seconds"],
                  estimate={k: estimate.get(k) for k in ("missing", "calibrated_at", "error")})


def set_estimate(job_id: str, estimate: dict) -> dict:
    """Record the prediction of a job created with estimate=PENDING (before its supervisor starts it)."""
    record = read_job(job_id)
    _apply_estimate(record, estimate)
    write_job(record)
    return record


def read_job(job_id: str) -> dict:
    return json.loads((job_path(job_id) / "job.json").read_text())


def write_job(record: dict) -> None:
    runs.atomic_write(job_path(record["id"]) / "job.json", json.dumps(record, indent=2))


def update_job(job_id: str, **fields) -> dict:
    if not runs.is_writer():
        return fields
    record = read_job(job_id)
    record.update(fields)
    write_job(record)
    return record


def list_jobs(owner: str | None = None) -> list[dict]:
    """Every readable job, newest first; only `owner`'s when given."""
    out = []
    for path in jobs_dir().iterdir():
        try:
            record = json.loads((path / "job.json").read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if owner is None or record.get("owner") == owner:
            out.append(record)
    return sorted(out, key=lambda r: r["created_at"] + r["id"], reverse=True)


def append_event(job_id: str, **event) -> None:
    if not runs.is_writer():
        return
    with open(job_path(job_id) / "events.jsonl", "a") as f:
        f.write(json.dumps({"time": runs.now_iso(), **event}) + "\n")


def read_events(job_id: str) -> list[dict]:
    return runs.read_jsonl(job_path(job_id) / "events.jsonl")


def request_cancel(job_id: str) -> None:
    (job_path(job_id) / "cancel").touch()


def cancel_requested(job_id: str) -> bool:
    return (job_path(job_id) / "cancel").exists()


def log_path(job_id: str) -> Path:
    return job_path(job_id) / "worker.log"


def log_tail(job_id: str, lines: int = 6) -> str:
    try:
        text = log_path(job_id).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def holder_alive(record: dict) -> bool:
    """Is some process still responsible for this job: its supervisor (the app or CLI that queued it) or a worker?"""
    for who in (record.get("supervisor"), record.get("worker")):
        if who and is_alive(who.get("pid"), who.get("pid_started")):
            return True
    return False


def mark_dead_jobs() -> list[str]:
    """Jobs left queued/running by processes that are gone become `interrupted` (resumable), and so do their runs."""
    marked = []
    for record in list_jobs():
        if record.get("status") in ("queued", "running") and not holder_alive(record):
            update_job(record["id"], status="interrupted", ended_at=runs.now_iso(), worker=None,
                       error=record.get("error") or "the process running it stopped before it finished")
            append_event(record["id"], event="interrupted")
            marked.append(record["id"])
    runs.mark_interrupted()
    return marked


class JobContext:
    """What a phase sees of its job: the stop flag (`is_set()`, as a training callback checks it), progress with an
    ETA, and the runs it creates. `local_stop` is an extra flag (the CLI's Ctrl-C)."""

    def __init__(self, job_id: str, index: int, local_stop=None):
        self.job_id, self.index, self.local_stop = job_id, index, local_stop
        self.started = time.perf_counter()
        self._last_write = 0.0
        self._done = 0

    def is_set(self) -> bool:
        return bool(self.local_stop is not None and self.local_stop.is_set()) or cancel_requested(self.job_id)

    def check(self) -> None:
        if self.is_set():
            raise Cancelled("cancelled")

    def progress(self, done: float, total: float | None = None, unit: str = "", force: bool = False) -> None:
        self._done = done
        now = time.perf_counter()
        if not force and now - self._last_write < PROGRESS_EVERY_S and not (total and done >= total):
            return
        self._last_write = now
        record = read_job(self.job_id)
        elapsed = now - self.started
        eta = elapsed / done * max(total - done, 0) if total and done else None
        record["progress"] = {"done": done, "total": total, "unit": unit, "phase_index": self.index,
                              "phase": record["phases"][self.index]["name"], "phases": len(record["phases"])}
        record["eta_s"] = None if eta is None else round(eta, 1)
        write_job(record)

    def advance(self, count: int, total: int | None, unit: str) -> None:
        """Progress by a count of finished items (answers generated); raises Cancelled when asked to stop."""
        self.check()
        self.progress(self._done + count, total, unit)

    def on_step(self, step: int, max_steps: int) -> None:
        self.progress(step, max_steps or None, "step")

    def add_run(self, run_id: str) -> None:
        """Record a run this phase trains, in the job and in the phase's spec, so a resumed job continues that run
        instead of starting another."""
        record = read_job(self.job_id)
        record["phases"][self.index]["spec"]["run_id"] = run_id
        if run_id not in record["run_ids"]:
            record["run_ids"].append(run_id)
        write_job(record)
        append_event(self.job_id, event="run", run_id=run_id)


def queue_position(record: dict, queued: list[str]) -> int | None:
    """0 while running, n for the n-th job waiting, None when finished."""
    if record["status"] == "running":
        return 0
    return queued.index(record["id"]) + 1 if record["id"] in queued else None


class ProgressFollower:
    """Calls `on_progress(done, total, unit)` from a small thread while a block runs, as the job record changes: how
    a foreground CLI draws its progress bar from the same record the app reads."""

    def __init__(self, job_id: str, on_progress, every_s: float = 0.5):
        self.job_id, self.on_progress, self.every_s = job_id, on_progress, every_s
        self._stop = threading.Event()
        self._seen = None

    def __enter__(self):
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()
        return self

    def _follow(self):
        while runs.is_writer() and not self._stop.wait(self.every_s):
            self._report()

    def _report(self):
        try:
            p = read_job(self.job_id)["progress"]
        except (OSError, ValueError):
            return
        if (p.get("done"), p.get("total")) != self._seen and p.get("total"):
            self._seen = (p.get("done"), p.get("total"))
            self.on_progress(p.get("done") or 0, p["total"], p.get("unit", ""))

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=2)
        if runs.is_writer():
            self._report()  # the last steps may have come after the last poll
        return False
