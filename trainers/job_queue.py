"""The queue: one job at a time per process, each phase in a worker process, watched by a supervising thread.

    from trainers.job_queue import QUEUE
    record = QUEUE.submit("train", [jobs.phase("train", "train", config=..., run_id=...)], owner="local")
    QUEUE.cancel(record["id"])        # queued: dropped; running: stop at the next step, killed after a grace period
    QUEUE.resume(job_id)              # an interrupted / failed / cancelled job; finished phases are not redone

Compute is the scarce thing on a CPU, so nothing runs beside the current job: a second request waits in the queue,
and the UI shows its position. The app's background thread is the supervisor; the torch work happens in a worker
process (`python -m trainers.worker`) that it spawns for each phase, so a crash or an out-of-memory there leaves the
app serving. `supervise(job_id, in_process=True)` runs the same phases in the calling process, for the CLI.
"""

import os
import signal
import subprocess
import sys
import threading
import time
import traceback

from trainers import jobs, runs
from trainers.liveness import process_identity
from trainers.paths import REPO

CANCEL_GRACE_S = float(os.environ.get("PLAYGROUND_CANCEL_GRACE_S", "20"))
PRICE_WAIT_S = 2.0  # how long a request waits for its job's time estimate before answering without it


class JobBusy(RuntimeError):
    """A request that would touch a run another queued or running job already holds."""


def worker_env() -> dict:
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{path}" if path else str(REPO)}


def describe_exit(code: int) -> str:
    if code < 0:
        name = signal.Signals(-code).name
        hint = " (out of memory, or killed by hand)" if name == "SIGKILL" else ""
        return f"signal {name}{hint}"
    return f"exit code {code}"


def _interrupt_runs(record: dict, reason: str) -> None:
    """Runs the dead worker left `running` become `interrupted`: never stuck running, and resumable."""
    for run_id in record.get("run_ids") or []:
        try:
            if runs.read_run(run_id)["status"] in ("running", "queued"):
                runs.update_run(run_id, status="interrupted", error=reason, ended_at=runs.now_iso())
        except (OSError, ValueError):
            continue


def _spawn_phase(job_id: str, index: int, local_stop=None) -> str:
    """Run one phase in a worker process and return how it ended, whatever the worker managed to record."""
    with open(jobs.log_path(job_id), "a") as log:
        proc = subprocess.Popen([sys.executable, "-m", "trainers.worker", job_id, str(index)], cwd=REPO,
                                env=worker_env(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)  # its own process group: a kill takes its children too
    cancel_seen, killed = None, False
    while True:
        try:
            code = proc.wait(timeout=0.25)
            break
        except subprocess.TimeoutExpired:
            pass
        if cancel_seen is None and (jobs.cancel_requested(job_id) or (local_stop and local_stop.is_set())):
            jobs.request_cancel(job_id)
            cancel_seen = time.monotonic()
        if cancel_seen is not None and time.monotonic() - cancel_seen > CANCEL_GRACE_S:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:  # it ended on its own just now
                pass
            code, killed = proc.wait(), True
            break
    record = jobs.read_job(job_id)
    phase = record["phases"][index]
    if phase["status"] in ("completed", "cancelled", "failed"):
        return phase["status"]
    if killed:
        status = "cancelled"
        reason = f"cancelled; the worker did not stop within {CANCEL_GRACE_S:.0f} s and was killed"
    else:
        tail = jobs.log_tail(job_id, 1)
        status, reason = "failed", f"the worker process ended with {describe_exit(code)}" + (
            f"; last output: {tail[-300:]}" if tail and code > 0 else "")
    phase.update(status=status, error=reason, ended_at=runs.now_iso())
    record["worker"] = None
    jobs.write_job(record)
    jobs.append_event(job_id, event="phase_ended", phase=phase["name"], index=index, status=status, error=reason)
    _interrupt_runs(record, reason)
    return status


def supervise(job_id: str, local_stop=None, in_process: bool = False, on_phase=None) -> dict:
    """Run the job's unfinished phases in order, each in a worker (or here), and leave a final status."""
    from trainers.worker import run_phase

    record = jobs.update_job(job_id, status="running", started_at=runs.now_iso(), ended_at=None, error="",
                             supervisor=process_identity())
    jobs.append_event(job_id, event="started")
    status = "completed"
    for index, phase in enumerate(record["phases"]):
        if phase["status"] == "completed":
            continue
        if jobs.cancel_requested(job_id) or (local_stop is not None and local_stop.is_set()):
            status = "cancelled"
            break
        if on_phase:
            on_phase(index, phase)
        started = time.perf_counter()
        status = run_phase(job_id, index, local_stop) if in_process else _spawn_phase(job_id, index, local_stop)
        _record_phase_seconds(job_id, index, time.perf_counter() - started)
        if status != "completed":
            break
    _learn_timing(job_id)
    record = jobs.read_job(job_id)
    done = [p for p in record["phases"] if p["status"] == "completed"]
    ended = next((p for p in record["phases"] if p["status"] in ("failed", "cancelled")), None)
    record.update(status=status, ended_at=runs.now_iso(), worker=None,
                  result={**(done[-1]["result"] or {})} if done and status == "completed" else record["result"],
                  error="" if status == "completed" else f"{ended['name']}: {ended['error']}" if ended else status)
    jobs.write_job(record)
    jobs.append_event(job_id, event="ended", status=status, error=record["error"])
    return record


def _record_phase_seconds(job_id: str, index: int, seconds: float) -> None:
    """The phase's wall time as the supervisor saw it: the worker's start and exit included, since they are part of
    what a person waits for (the worker is gone by now, so this write is the only one)."""
    record = jobs.read_job(job_id)
    record["phases"][index]["measured_s"] = round(seconds, 2)
    jobs.write_job(record)


def _learn_timing(job_id: str) -> None:
    from trainers.timing import learn_from_job

    try:
        learn_from_job(job_id)
    except Exception:  # a calibration that cannot be written must not fail a job that did its work
        traceback.print_exc()


class JobQueue:
    def __init__(self):
        self._lock = threading.Condition()
        self._waiting: list[str] = []
        self._thread: threading.Thread | None = None
        self._pricing: dict[str, threading.Thread] = {}
        self.current: str | None = None

    def submit(self, kind: str, phases: list[dict], owner: str = "local", title: str = "", run_ids=(),
               price_within_s: float = PRICE_WAIT_S) -> dict:
        """Queue a job and return its record. Pricing it (trainers.timing reads datasets and tokenizers, and the
        first time in a process imports torch and transformers: seconds, more on a busy CPU) runs beside the
        request; the record carries the estimate when that took under `price_within_s`, else `estimate.pending`
        until it lands. The supervisor never starts a job before its estimate, which the job is measured against."""
        with self._lock:
            held = self._held_runs() & set(run_ids)
            if held:
                raise JobBusy(f"run {sorted(held)[0]} already belongs to a queued or running job")
            self._check_quota(owner)
            record = jobs.create_job(kind, phases, owner, title, run_ids, estimate=jobs.PENDING)
            pricing = self._pricing[record["id"]] = threading.Thread(
                target=self._price, args=(record["id"], phases), name=f"price-{record['id']}", daemon=True)
            pricing.start()
            self._enqueue(record["id"])
        pricing.join(price_within_s)
        # the record as submitted (still "queued" even when the supervisor has started it since), with the estimate
        # when it has landed
        priced = jobs.read_job(record["id"])
        record.update(estimated_s=priced["estimated_s"], estimate=priced["estimate"])
        for phase, now in zip(record["phases"], priced["phases"], strict=True):
            phase.update(estimated_s=now["estimated_s"], timing_key=now["timing_key"])
        return record

    def _price(self, job_id: str, phases: list[dict]) -> None:
        from trainers.timing import safe_estimate

        estimate = safe_estimate(phases)  # not under the lock: the queue keeps answering while this reads
        with self._lock:
            try:
                jobs.set_estimate(job_id, estimate)
            except (OSError, ValueError):  # deleted meanwhile
                pass
            self._pricing.pop(job_id, None)  # priced: nothing left to wait for (a job cancelled unstarted included)

    def resume(self, job_id: str) -> dict:
        """Queue an ended job again; its completed phases are kept, a cut-off training continues from its
        checkpoint (trainers.phases.run_train decides from the run's status)."""
        with self._lock:
            record = jobs.read_job(job_id)
            if record["status"] not in ("interrupted", "failed", "cancelled"):
                raise ValueError(f"job {job_id} is {record['status']}; only interrupted, failed or cancelled jobs "
                                 "resume")
            if self._held_runs() & set(record.get("run_ids") or []):
                raise JobBusy(f"a run of job {job_id} belongs to another queued or running job")
            self._check_quota(record.get("owner") or "local")
            (jobs.job_path(job_id) / "cancel").unlink(missing_ok=True)
            for phase in record["phases"]:
                if phase["status"] != "completed":
                    phase.update(status="queued", error="", result=None)
            record.update(status="queued", error="", ended_at=None, supervisor=process_identity(), worker=None)
            jobs.write_job(record)
            jobs.append_event(job_id, event="resumed")
            self._enqueue(job_id)
            return record

    def cancel(self, job_id: str) -> str:
        """`cancelled` for a job that had not started, `cancelling` for the running one (it saves and stops)."""
        with self._lock:
            record = jobs.read_job(job_id)
            if record["status"] == "queued" and job_id in self._waiting:
                self._waiting.remove(job_id)
                jobs.update_job(job_id, status="cancelled", ended_at=runs.now_iso(),
                                error="cancelled before it started")
                jobs.append_event(job_id, event="ended", status="cancelled")
                for run_id in record.get("run_ids") or []:
                    runs.update_run(run_id, status="cancelled", ended_at=runs.now_iso(),
                                    error="cancelled before it started")
                return "cancelled"
            if record["status"] in ("queued", "running"):
                jobs.request_cancel(job_id)
                return "cancelling"
        raise ValueError(f"job {job_id} is {record['status']}; there is nothing to cancel")

    def holder(self, run_id: str) -> str | None:
        """The running or queued job that has this run among its runs, if any."""
        for job_id in [self.current, *self.waiting()]:
            try:
                if job_id and run_id in (jobs.read_job(job_id).get("run_ids") or []):
                    return job_id
            except (OSError, ValueError):
                continue
        return None

    def waiting(self) -> list[str]:
        with self._lock:
            return list(self._waiting)

    def active(self) -> str | None:
        return self.current

    def wait(self, job_id: str, timeout_s: float = 600, poll_s: float = 0.2) -> dict:
        """Block until the job has ended; for the CLI and tests."""
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            record = jobs.read_job(job_id)
            if record["status"] in jobs.FINISHED and self.current != job_id:
                return record
            time.sleep(poll_s)
        raise TimeoutError(f"job {job_id} still {jobs.read_job(job_id)['status']} after {timeout_s} s")

    def _held_runs(self) -> set[str]:
        """Runs of the waiting jobs and of the current one while it still has a phase to run or running (once its
        last phase has ended, its worker only exits: a resume queued then runs after it is gone)."""
        held = set()
        for job_id in self._waiting + ([self.current] if self.current else []):
            try:
                record = jobs.read_job(job_id)
            except (OSError, ValueError):
                continue
            if job_id != self.current or any(p["status"] in ("queued", "running") for p in record["phases"]):
                held.update(record.get("run_ids") or [])
        return held

    def _check_quota(self, owner: str) -> None:
        """One workspace may not fill the queue everyone waits in (caps: jobs_per_workspace)."""
        from trainers import caps

        mine = 0
        for job_id in self._waiting + ([self.current] if self.current else []):
            try:
                mine += jobs.read_job(job_id).get("owner") == owner
            except (OSError, ValueError):
                continue
        refused = caps.refusal("jobs_per_workspace", mine + 1, f"{mine + 1:,} with this one")
        if refused:
            raise JobBusy(refused)

    def ahead_of(self, job_id: str) -> int:
        """How many jobs run or wait before this one (0 when it runs or is not queued)."""
        waiting = self.waiting()
        if job_id not in waiting:
            return 0
        return waiting.index(job_id) + (1 if self.current and self.current != job_id else 0)

    def _enqueue(self, job_id: str) -> None:
        self._waiting.append(job_id)
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="job-supervisor", daemon=True)
            self._thread.start()
        self._lock.notify_all()

    def _loop(self) -> None:
        while True:
            with self._lock:
                while not self._waiting:
                    self._lock.wait()
                job_id = self.current = self._waiting.pop(0)
                pricing = self._pricing.pop(job_id, None)
            if pricing is not None:
                pricing.join()
            try:
                supervise(job_id)
            except Exception as err:  # the supervisor must outlive any one job
                traceback.print_exc()
                jobs.update_job(job_id, status="failed", ended_at=runs.now_iso(), worker=None,
                                error=f"supervisor: {err.__class__.__name__}: {err}")
            finally:
                with self._lock:
                    self.current = None


QUEUE = JobQueue()
"""The process's queue: the app's, or the CLI's when it supervises a job in the foreground."""
