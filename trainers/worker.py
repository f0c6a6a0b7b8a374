"""One phase of a job in this process: `python -m trainers.worker JOB_ID PHASE_INDEX`.

The app's supervisor (trainers/job_queue.py) starts one worker process per phase, so the torch work never runs in
the app: an out-of-memory or a crash ends the worker, not the app; cancel can always end it; and a run's measured
peak memory is this process's own. The CLI calls `run_phase` in its own process instead (also under torchrun).

Exit codes: 0 the phase completed, 3 it was cancelled, 1 it failed (the record says why).
"""

import sys
import traceback

from trainers import jobs, runs
from trainers.liveness import process_identity

EXIT_CANCELLED = 3


def run_phase(job_id: str, index: int, local_stop=None) -> str:
    """Run phase `index` of the job and record how it ended: `completed`, `cancelled` or `failed`."""
    from trainers.phases import PHASES, PhaseFailed

    record = jobs.read_job(job_id)
    phase = record["phases"][index]
    phase.update(status="running", started_at=runs.now_iso(), ended_at=None, error="")
    record.update(worker=process_identity())
    jobs.write_job(record)
    jobs.append_event(job_id, event="phase_started", phase=phase["name"], index=index)
    ctx = jobs.JobContext(job_id, index, local_stop)
    try:
        ctx.check()
        result, status, error = PHASES[phase["kind"]](phase["spec"], ctx), "completed", ""
    except jobs.Cancelled as err:
        result, status, error = None, "cancelled", str(err)
    except PhaseFailed as err:  # an outcome the phase explains in its own sentence, not a crash
        result, status, error = None, "failed", str(err)
    except Exception as err:  # recorded for the UI; the traceback goes to worker.log
        traceback.print_exc()
        result, status, error = None, "failed", f"{err.__class__.__name__}: {err}".strip()
    record = jobs.read_job(job_id)
    record["phases"][index].update(status=status, result=result, error=error, ended_at=runs.now_iso())
    record["worker"] = None
    jobs.write_job(record)
    jobs.append_event(job_id, event="phase_ended", phase=phase["name"], index=index, status=status, error=error)
    return status


def _die_with_parent() -> None:
    """Linux: end this worker when the supervising app dies, instead of training on as an orphan."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main(argv: list[str]) -> int:
    from trainers.malloc import keep_freed_memory
    from trainers.quiet import quiet_libraries

    _die_with_parent()
    keep_freed_memory()
    quiet_libraries()
    status = run_phase(argv[0], int(argv[1]))
    return {"completed": 0, "cancelled": EXIT_CANCELLED}.get(status, 1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
