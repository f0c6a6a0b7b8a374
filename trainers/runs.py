"""The on-disk record of a run: `runs/<run_id>/` with config.yaml, metrics.jsonl, run.json and the artifact.

run.json is rewritten atomically (write a temp file, then rename), so a reader never sees half a record and a run
killed mid-write still has its previous state. The UI, the CLI and the evaluation read runs only from here.
"""

import json
import os
import shutil
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import yaml

from trainers.liveness import is_alive, process_identity
from trainers.paths import runs_dir

STATUSES = ("queued", "running", "completed", "cancelled", "failed", "interrupted")
FINISHED = ("completed", "cancelled", "failed", "interrupted")
RUN_KEYS = ("id", "stage", "method", "base_model", "dataset", "status", "error", "started_at", "ended_at",
            "trainable_params", "total_params", "peak_memory_mb", "tokens_per_second", "final_loss", "artifact_dir",
            "owner")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_run_id(stage: str, method: str, label: str = "") -> str:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{stage}-{method}" + (f"-{label}" if label else "")
    run_id, n = base, 1
    while (runs_dir() / run_id).exists():
        n += 1
        run_id = f"{base}-{n}"
    return run_id


def run_path(run_id: str) -> Path:
    if not isinstance(run_id, str) or not run_id or "/" in run_id or "\\" in run_id or run_id.startswith("."):
        raise ValueError(f"'{run_id}' is not a run id")
    return runs_dir() / run_id


def is_writer() -> bool:
    """Under torchrun every rank runs the same code; only rank 0 writes the run record."""
    return int(os.environ.get("RANK", "0")) == 0


def atomic_write(path: Path, text: str) -> None:
    """Write a temp file, then rename: a reader sees the old record or the new one, never half of one."""
    if not is_writer():
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def create_run(run_id: str, config: dict, owner: str = "local") -> Path:
    path = run_path(run_id)
    if not is_writer():
        return path
    path.mkdir(parents=True)
    atomic_write(path / "config.yaml", yaml.safe_dump(config, sort_keys=False))
    (path / "metrics.jsonl").touch()
    record = dict.fromkeys(RUN_KEYS)
    record.update(id=run_id, stage=config["stage"], method=config["method"], base_model=config["base_model"],
                  dataset=config["dataset"], status="queued", error="", owner=owner, **process_identity())
    write_run(run_id, record)
    return path


def read_run(run_id: str) -> dict:
    return json.loads((run_path(run_id) / "run.json").read_text())


def write_run(run_id: str, record: dict) -> None:
    atomic_write(run_path(run_id) / "run.json", json.dumps(record, indent=2))


def update_run(run_id: str, **fields) -> dict:
    if not is_writer():
        return fields
    record = read_run(run_id)
    record.update(fields)
    write_run(run_id, record)
    return record


def read_config(run_id: str) -> dict:
    return yaml.safe_load((run_path(run_id) / "config.yaml").read_text())


def read_jsonl(path: Path) -> list[dict]:
    """The complete lines of a JSON-lines file another process may be appending to ([] when it does not exist)."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # a line being appended right now
            continue
    return rows


def read_metrics(run_id: str) -> list[dict]:
    return read_jsonl(run_path(run_id) / "metrics.jsonl")


def append_metrics(run_id: str, row: dict) -> None:
    if not is_writer():
        return
    with open(run_path(run_id) / "metrics.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")


def list_runs() -> list[dict]:
    """Every readable run, newest first."""
    out = []
    for path in runs_dir().iterdir():
        if (path / "run.json").is_file():
            try:
                out.append(json.loads((path / "run.json").read_text()))
            except (json.JSONDecodeError, OSError):
                continue
    return sorted(out, key=lambda r: r.get("started_at") or r["id"], reverse=True)


def mark_interrupted() -> list[str]:
    """Runs left `running`/`queued` by a process that is gone (pid and start time no longer match a live process):
    mark them `interrupted` so `resume` can pick them up."""
    marked = []
    for record in list_runs():
        if record.get("status") in ("running", "queued") and not is_alive(record.get("pid"),
                                                                           record.get("pid_started")):
            update_run(record["id"], status="interrupted", ended_at=now_iso(),
                       error="the process stopped before the run finished")
            marked.append(record["id"])
    return marked


def latest_checkpoint(run_id: str) -> Path | None:
    """The newest complete checkpoint. The Trainer writes trainer_state.json last and deletes the previous checkpoint
    only after it, so a folder without it is a save the process was killed in the middle of."""
    checkpoints = sorted((p for p in (run_path(run_id) / "checkpoints").glob("checkpoint-*")
                          if (p / "trainer_state.json").is_file()), key=lambda p: int(p.name.split("-")[-1]))
    return checkpoints[-1] if checkpoints else None


def artifact_size_mb(run_id: str) -> float | None:
    record = read_run(run_id)
    folder = record.get("artifact_dir")
    if not folder or not Path(folder).is_dir():
        return None
    return sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file()) / 2**20


def delete_run(run_id: str) -> None:
    if read_run(run_id).get("status") == "running":
        raise RuntimeError(f"run {run_id} is still running; cancel it first")
    shutil.rmtree(run_path(run_id))


def duration_s(record: dict) -> float | None:
    if not record.get("started_at") or not record.get("ended_at"):
        return None
    parse = datetime.fromisoformat
    return (parse(record["ended_at"]) - parse(record["started_at"])).total_seconds()


def wait_for(run_id: str, timeout_s: float = 600, poll_s: float = 0.2) -> dict:
    """Block until the run is finished; for the CLI and tests."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        record = read_run(run_id)
        if record["status"] in FINISHED:
            return record
        time.sleep(poll_s)
    raise TimeoutError(f"run {run_id} still {read_run(run_id)['status']} after {timeout_s}s")
