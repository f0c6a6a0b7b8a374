"""The on-disk record of a run: `runs/<run_id>/` with config.yaml, metrics.jsonl, run.json and the artifact.

run.json is rewritten atomically (write a temp file, then rename), so a reader never sees half a record and a run
killed mid-write still has its previous state. The UI, the CLI and the evaluation read runs only from here.
"""

import json
import os
import shutil
import threading
import time
from collections import Counter
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
                  dataset=config["dataset"], status="queued", error="", name=config.get("run_name") or "",
                  owner=owner, **process_identity())
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


def read_all_metrics(run_id: str) -> tuple[list[dict], list[dict]]:
    """metrics.jsonl read once: (training lines {step, loss, learning_rate, ...}, validation lines {step, eval_loss,
    ...}, present when the run held rows out)."""
    rows = read_jsonl(run_path(run_id) / "metrics.jsonl")
    return [r for r in rows if "loss" in r], [r for r in rows if "eval_loss" in r]


def read_metrics(run_id: str) -> list[dict]:
    return read_all_metrics(run_id)[0]


def read_eval_metrics(run_id: str) -> list[dict]:
    return read_all_metrics(run_id)[1]


def write_held_out(run_id: str, records: list[dict]) -> None:
    """The rows a run kept out of training (`heldout.jsonl`), so anyone can see what its validation loss is on."""
    atomic_write(run_path(run_id) / "heldout.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n"
                                                             for r in records))


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


STAGE_NAMES = {"stage1": "Stage 1", "stage2": "Stage 2", "stage3": "Stage 3", "stage4_dpo": "Stage 4 DPO",
               "stage4_grpo": "Stage 4 GRPO"}
METHOD_NAMES = {"full": "full", "lora": "LoRA", "qlora": "QLoRA"}
ID_STAMP = "%Y%m%d-%H%M%S"  # new_run_id's prefix, in local time


def run_name(record: dict) -> str:
    """The name the user gave the run (`run_name`), "" when none. Runs recorded before run.json kept it carry it in
    their id, after the stamp, stage and method."""
    if record.get("name") is not None:
        return record["name"]
    prefix = f"-{record.get('stage')}-{record.get('method')}-"
    rid = record.get("id") or ""
    return rid.split(prefix, 1)[1] if prefix in rid else ""


def created_local(record: dict) -> datetime | None:
    """When the run was created, in local time: from its id's stamp (what the user saw when starting it), else from
    started_at (ids given by hand)."""
    try:
        return datetime.strptime((record.get("id") or "")[:15], ID_STAMP)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(record["started_at"]).astimezone().replace(tzinfo=None)
    except (KeyError, TypeError, ValueError):
        return None


def run_label(record: dict, seconds: bool = False) -> str:
    """What a person reads for a run wherever one is listed: "Stage 2 · full · 14:05 · my-name", with the date for a
    run of another day (and the year for one of another year) and the status unless it completed. The run id stays
    the value underneath."""
    parts = [STAGE_NAMES.get(record.get("stage"), str(record.get("stage") or "run")),
             METHOD_NAMES.get(record.get("method"), str(record.get("method") or "?"))]
    when = created_local(record)
    if when is not None:
        clock = when.strftime("%H:%M:%S" if seconds else "%H:%M")
        today = datetime.now()
        day = f"{when:%b} {when.day}" + ("" if when.year == today.year else f" {when.year}")
        parts.append(clock if when.date() == today.date() else f"{day} {clock}")
    if run_name(record):
        parts.append(run_name(record))
    label = " · ".join(parts)
    status = record.get("status")
    return label if status in (None, "completed") else f"{label} ({status})"


def run_labels(records: list[dict]) -> dict[str, str]:
    """{run id: label} for runs listed together: runs of one stage and method started in the same minute show their
    seconds, and any still alike their id."""
    labels = {r["id"]: run_label(r) for r in records}
    for widen in (lambda r: run_label(r, seconds=True), lambda r: f"{run_label(r, seconds=True)} [{r['id']}]"):
        counts = Counter(labels.values())
        labels = {r["id"]: widen(r) if counts[labels[r["id"]]] > 1 else labels[r["id"]] for r in records}
    return labels


def label_of(run_id: str) -> str:
    """The label of a run named by id (the id itself when its record cannot be read)."""
    try:
        return run_label(read_run(run_id))
    except (OSError, ValueError):
        return run_id


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
