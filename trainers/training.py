"""A training run from start to finish, the same code for a worker process (the app's jobs) and the CLI's foreground:

    run_id = create_training_run(config)          # preflight, then runs/<run_id>/ with status `queued`
    record = execute(config, run_id, stop)        # train; run.json ends completed | cancelled | failed
    config, checkpoint = prepare_resume(run_id)   # an interrupted / failed / cancelled run, ready to execute again
"""

import json
import traceback

from trainers import runs
from trainers.config import TrainConfig, build_config, to_dict
from trainers.liveness import process_identity
from trainers.stages import preflight, train_stage


def create_training_run(config: TrainConfig, run_id: str | None = None, owner: str = "local") -> str:
    """Check everything that can be checked first, so a refused request leaves no run directory behind."""
    preflight(config)
    run_id = run_id or runs.new_run_id(config.stage, config.method, config.run_name)
    runs.create_run(run_id, to_dict(config), owner)
    return run_id


def execute(config: TrainConfig, run_id: str, stop_event=None, resume_from: str | None = None,
            on_step=None) -> dict:
    """Run one stage to the end and leave run.json in a final state whatever happens."""
    # Under torchrun only rank 0 writes the record, and the other ranks can get here before it exists: they skip it.
    started_at = runs.read_run(run_id).get("started_at") if runs.is_writer() else None
    runs.update_run(run_id, status="running", started_at=started_at or runs.now_iso(), ended_at=None, error="",
                    **process_identity())
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


def prepare_resume(run_id: str) -> tuple[TrainConfig, str | None]:
    """The run's saved config and last checkpoint; metrics after that checkpoint are dropped (they will be redone).
    Without a checkpoint the run trains again from step 0, and the caller says so."""
    record = runs.read_run(run_id)
    if record["status"] not in ("interrupted", "failed", "cancelled"):
        raise ValueError(f"run {run_id} is {record['status']}; only interrupted, failed or cancelled runs resume")
    config = build_config(runs.read_config(run_id))
    checkpoint = runs.latest_checkpoint(run_id)
    step = int(checkpoint.name.split("-")[-1]) if checkpoint else 0
    kept = [m for m in runs.read_jsonl(runs.run_path(run_id) / "metrics.jsonl") if m.get("step", 0) <= step]
    path = runs.run_path(run_id) / "metrics.jsonl"
    path.write_text("".join(json.dumps(m) + "\n" for m in kept))
    runs.update_run(run_id, status="queued", error="", **process_identity())
    return config, str(checkpoint) if checkpoint else None


def resume_plan(run_id: str) -> str:
    """What a resume of this run will do, in words, before it is queued."""
    checkpoint = runs.latest_checkpoint(run_id)
    if checkpoint is None:
        return f"run {run_id} saved no checkpoint, so it trains again from step 0"
    return f"run {run_id} continues from its checkpoint at step {checkpoint.name.split('-')[-1]}"
