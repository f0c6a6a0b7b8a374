"""Background training jobs as the app runs them: cancel saves a usable adapter, one job at a time, and a failure ends
`failed` with its error and nothing that looks like a finished model."""

import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from trainers import runs
from trainers.config import to_dict
from trainers.data import DatasetError
from trainers.jobs import JobBusy, execute, preflight


def wait_until(predicate, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def run_folders(home: Path) -> list[Path]:
    return [p for p in (home / "runs").glob("*") if p.is_dir()] if (home / "runs").exists() else []


def test_cancel_stops_a_long_run_and_keeps_a_loadable_adapter(runner, tiny_config, learnable_dataset, tiny_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    config = tiny_config("stage3_lora.yaml", dataset=str(learnable_dataset), max_steps=500, learning_rate=1e-2)
    run_id = runner.start(config)
    assert runner.active() == run_id
    wait_until(lambda: len(runs.read_metrics(run_id)) >= 3, 120, "three logged steps")
    assert runs.read_run(run_id)["status"] == "running"
    step_at_cancel = runner.progress[0]
    assert runner.cancel() == run_id
    runner.join(timeout=120)
    assert runner.active() is None

    record = runs.read_run(run_id)
    assert record["status"] == "cancelled" and record["error"] == "" and record["ended_at"]
    steps = [m["step"] for m in runs.read_metrics(run_id)]
    assert steps == list(range(1, len(steps) + 1)) and 3 <= steps[-1] <= step_at_cancel + 2  # stopped at once
    assert record["final_loss"] == runs.read_metrics(run_id)[-1]["loss"]

    adapter = Path(record["artifact_dir"])
    saved = load_file(adapter / "adapter_model.safetensors")
    assert all(torch.count_nonzero(v) > 0 for k, v in saved.items() if "lora_B" in k)  # the trained state, saved
    base = AutoModelForCausalLM.from_pretrained(tiny_path, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, str(adapter)).eval()
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        with model.disable_adapter():
            bare = model(ids).logits
        assert not torch.allclose(model(ids).logits, bare)


def test_second_start_while_training_raises_jobbusy(runner, tiny_config, learnable_dataset, playground_home):
    config = tiny_config("stage3_lora.yaml", dataset=str(learnable_dataset), max_steps=500)
    first = runner.start(config)
    with pytest.raises(JobBusy, match=first):
        runner.start(config)
    assert [p.name for p in run_folders(playground_home)] == [first]  # the refused start left no run behind
    runner.cancel()
    runner.join(timeout=120)
    # once the first job has ended, the runner takes the next one
    second = runner.start(tiny_config("stage3_lora.yaml", dataset=str(learnable_dataset), max_steps=1))
    runner.join(timeout=120)
    assert second != first and runs.read_run(second)["status"] == "completed"


def test_bad_rows_are_refused_before_a_run_exists(runner, tiny_config, write_jsonl, playground_home):
    path = write_jsonl([{"prompt": "fine", "output": "ok"}, {"prompt": "", "output": "x"}])
    with pytest.raises(DatasetError, match="line 2: prompt: empty text"):
        runner.start(tiny_config("stage1_sft.yaml", dataset=str(path), max_steps=2))
    assert runner.active() is None and run_folders(playground_home) == []


def assert_failed_without_artifact(run_id: str, *error_parts: str) -> None:
    record = runs.read_run(run_id)
    assert record["status"] == "failed" and record["ended_at"]
    for part in error_parts:
        assert part in record["error"], record["error"]
    assert record["artifact_dir"] is None and record["final_loss"] is None
    run_dir = runs.run_path(run_id)
    assert not (run_dir / "adapter").exists() and not (run_dir / "model").exists()
    assert not any(run_dir.glob(".*.tmp"))


def test_dataset_deleted_after_preflight_fails_the_run(tiny_config, learnable_dataset):
    config = tiny_config("stage1_sft.yaml", dataset=str(learnable_dataset), max_steps=3)
    preflight(config)  # the file is fine when the run is accepted ...
    run_id = runs.new_run_id(config.stage, config.method)
    runs.create_run(run_id, to_dict(config))
    learnable_dataset.unlink()  # ... and gone when the job gets to it
    record = execute(config, run_id)
    assert record["status"] == "failed"
    assert_failed_without_artifact(run_id, "FileNotFoundError", str(learnable_dataset))


def test_exception_inside_a_background_job_fails_the_run(runner, tiny_config, learnable_dataset):
    # preflight cannot see this one: PEFT only finds out when it wraps the model, inside the job
    config = tiny_config("stage3_lora.yaml", dataset=str(learnable_dataset), max_steps=3,
                         target_modules=["no_such_proj"])
    run_id = runner.start(config)
    runner.join(timeout=120)
    assert runner.active() is None
    assert_failed_without_artifact(run_id, "no_such_proj")
    assert runs.read_metrics(run_id) == []
