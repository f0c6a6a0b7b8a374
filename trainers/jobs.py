"""Training jobs: one at a time per process, in a background thread (the app) or the foreground (the CLI).

    run_id = RUNNER.start(config)       # returns at once; progress lands in runs/<run_id>/metrics.jsonl
    RUNNER.cancel()                      # stops at the next step, saves what was trained, status `cancelled`
    run_id = RUNNER.resume(run_id)       # continues an interrupted run from its last checkpoint

Every run gets its own model instance, built inside the job; nothing here touches the model chat is using.
"""

import json
import os
import threading
import traceback

from trainers import runs
from trainers.config import TrainConfig, build_config, to_dict
from trainers.stages import preflight, train_stage


class JobBusy(RuntimeError):
    """A second training start while one runs."""


def execute(config: TrainConfig, run_id: str, stop_event: threading.Event | None = None,
            resume_from: str | None = None, on_step=None) -> dict:
    """Run one stage to the end and leave run.json in a final state whatever happens."""
    # Under torchrun only rank 0 writes the record, and the other ranks can get here before it exists: they skip it.
    started_at = runs.read_run(run_id).get("started_at") if runs.is_writer() else None
    runs.update_run(run_id, status="running", started_at=started_at or runs.now_iso(), ended_at=None, error="",
                    pid=os.getpid())
    try:
        result = train_stage(config, run_id, stop_event, resume_from, on_step)
    except BaseException as err:  # KeyboardInterrupt included: the record must not stay `running`
        message = f"{err.__class__.__name__}: {err}".strip()
        runs.update_run(run_id, status="failed", error=message, ended_at=runs.now_iso())
        if not isinstance(err, Exception):
            raise
        traceback.print_exc()
        return runs.read_run(run_id) if runs.is_writer() else {"id": run_id, "status": "failed", "error": message}
    status = "cancelled" if result.pop("cancelled") else "completed"
    return runs.update_run(run_id, status=status, ended_at=runs.now_iso(), **result)


class JobRunner:
    def __init__(self):
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.run_id: str | None = None
        self.progress = (0, 0)  # (step, max_steps), for a header that wants it without reading disk

    def active(self) -> str | None:
        return self.run_id if self._thread is not None and self._thread.is_alive() else None

    def _launch(self, config: TrainConfig, run_id: str, resume_from: str | None) -> str:
        self._stop = threading.Event()
        self.run_id, self.progress = run_id, (0, config.max_steps)
        self._thread = threading.Thread(target=execute, name=f"train-{run_id}", daemon=True,
                                        args=(config, run_id, self._stop, resume_from, self._on_step))
        self._thread.start()
        return run_id

    def _on_step(self, step: int, max_steps: int) -> None:
        self.progress = (step, max_steps)

    def start(self, config: TrainConfig) -> str:
        with self._lock:
            if self.active():
                raise JobBusy(f"run {self.run_id} is still training; cancel it or wait for it to finish")
            preflight(config)
            run_id = runs.new_run_id(config.stage, config.method, config.run_name)
            runs.create_run(run_id, to_dict(config))
            return self._launch(config, run_id, None)

    def resume(self, run_id: str) -> str:
        with self._lock:
            if self.active():
                raise JobBusy(f"run {self.run_id} is still training; cancel it or wait for it to finish")
            config, checkpoint = prepare_resume(run_id)
            return self._launch(config, run_id, checkpoint)

    def cancel(self) -> str | None:
        run_id = self.active()
        if run_id:
            self._stop.set()
        return run_id

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)


def prepare_resume(run_id: str) -> tuple[TrainConfig, str | None]:
    """The run's saved config and last checkpoint; metrics after that checkpoint are dropped (they will be redone)."""
    record = runs.read_run(run_id)
    if record["status"] not in ("interrupted", "failed", "cancelled"):
        raise ValueError(f"run {run_id} is {record['status']}; only interrupted, failed or cancelled runs resume")
    config = build_config(runs.read_config(run_id))
    checkpoint = runs.latest_checkpoint(run_id)
    step = int(checkpoint.name.split("-")[-1]) if checkpoint else 0
    kept = [m for m in runs.read_metrics(run_id) if m.get("step", 0) <= step]
    path = runs.run_path(run_id) / "metrics.jsonl"
    path.write_text("".join(json.dumps(m) + "\n" for m in kept))
    runs.update_run(run_id, status="queued", error="", pid=os.getpid())
    return config, str(checkpoint) if checkpoint else None


RUNNER = JobRunner()
