"""`python -m trainers` as a user runs it: a LoRA run end to end, refusals before any run directory exists, and a
run killed with SIGKILL that `runs` marks interrupted and `resume` finishes from its last checkpoint."""

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import REPO, cli_env
from trainers.runs import RUN_KEYS

METRIC_KEYS = {"step", "loss", "learning_rate", "grad_norm", "tokens_per_second", "elapsed_s"}
TINY_SETS = ["--set", "base_model=tiny", "--set", "max_length=128", "--set", "per_device_train_batch_size=2"]


def run_dirs(home: Path) -> list[Path]:
    return sorted(p for p in (home / "runs").glob("*") if p.is_dir()) if (home / "runs").exists() else []


def test_cli_trains_a_lora_adapter_end_to_end(run_cli, playground_home, tiny_path):
    result = run_cli("train", "assets/configs/stage3_lora.yaml", *TINY_SETS, "--set", "max_steps=3")
    assert result.returncode == 0, result.stderr[-3000:]
    [run] = run_dirs(playground_home)
    record = json.loads((run / "run.json").read_text())
    assert set(RUN_KEYS) <= set(record)
    assert record["status"] == "completed" and record["error"] == "" and record["ended_at"]
    assert (record["stage"], record["method"], record["base_model"]) == ("stage3", "lora", "tiny")

    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2, 3]
    for m in metrics:
        assert METRIC_KEYS <= set(m)
        assert math.isfinite(m["loss"]) and m["learning_rate"] > 0 and m["grad_norm"] > 0
        assert m["tokens_per_second"] > 0
    assert metrics[0]["elapsed_s"] < metrics[1]["elapsed_s"] < metrics[2]["elapsed_s"]
    assert record["final_loss"] == pytest.approx(sum(m["loss"] for m in metrics) / 3)  # 3 steps: all of them

    adapter = Path(record["artifact_dir"])
    assert adapter == run / "adapter"
    assert (adapter / "adapter_config.json").is_file() and (adapter / "adapter_model.safetensors").is_file()
    assert json.loads((adapter / "adapter_config.json").read_text())["r"] == 16
    share = record["trainable_params"] / record["total_params"]
    assert 0.005 < share < 0.03, share  # r=16 on 7 projections of a 64-wide model: ~1%
    assert f"({100 * share:.2f}%)" in result.stdout
    assert record["tokens_per_second"] > 0 and record["peak_memory_mb"] > 0

    config = yaml.safe_load((run / "config.yaml").read_text())  # the resolved config, overrides applied
    assert (config["base_model"], config["max_steps"], config["lora_r"], config["learning_rate"]) == ("tiny", 3, 16,
                                                                                                       1e-3)


def test_cli_json_lines_name_the_run_and_the_job_and_jobs_lists_it(run_cli, playground_home, tiny_path):
    result = run_cli("train", "assets/configs/stage1_sft.yaml", *TINY_SETS, "--set", "max_steps=2", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]  # every stdout line is JSON
    first, last = lines[0], lines[-1]
    assert [p.name for p in run_dirs(playground_home)] == [first["run_id"]]
    job = json.loads((playground_home / "jobs" / first["job_id"] / "job.json").read_text())
    assert job["kind"] == "train" and job["status"] == "completed" and job["run_ids"] == [first["run_id"]]
    assert job["owner"] == "cli" and job["progress"]["done"] == job["progress"]["total"] == 2
    assert (last["run_id"], last["job_id"], last["status"]) == (first["run_id"], first["job_id"], "completed")
    assert last["final_loss"] == json.loads((playground_home / "runs" / first["run_id"] / "run.json").read_text())[
        "final_loss"]

    listing = run_cli("jobs", timeout=60)
    assert listing.returncode == 0
    [row] = [line for line in listing.stdout.splitlines() if line.startswith(first["job_id"])]
    assert " completed " in row and first["run_id"] in row
    as_json = [json.loads(line) for line in run_cli("jobs", "--json", timeout=60).stdout.splitlines()]
    assert [j["id"] for j in as_json] == [first["job_id"]]


def test_cli_refuses_a_malformed_dataset_before_creating_a_run(run_cli, playground_home, write_jsonl, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "ok", "output": "fine"}\n{"prompt": "no output"}\n'
                    '{"prompt": "ok too", "output": "yes"}\n{"prompt": 3, "output": "x"}\n')
    result = run_cli("train", "assets/configs/stage1_sft.yaml", *TINY_SETS, "--set", f"dataset={path}",
                     "--set", "max_steps=2")
    assert result.returncode == 1
    assert "line 2: output: missing required field" in result.stderr
    assert "line 4: prompt: expected text, got int" in result.stderr
    assert "line 1" not in result.stderr and "line 3" not in result.stderr
    assert "Traceback" not in result.stderr
    assert run_dirs(playground_home) == []


@pytest.mark.parametrize("overrides, message", [
    (["learning_rate=0"], "learning_rate: must be > 0 (got 0.0)"),
    (["lora_r=0"], "lora_r: must be >= 1 (got 0)"),
    (["max_length=4"], "max_length: must be >= 8 (got 4)"),
    (["max_steps=-1"], "max_steps: must be >= 0 (got -1)"),
    (["max_steps=0", "num_train_epochs=0"], "max_steps: must be > 0 (or set epochs) (got 0)"),
    (["lora_dropout=1.5"], "lora_dropout: must be in [0, 1)"),
])
def test_cli_rejects_out_of_range_values(overrides, message, run_cli, playground_home):
    sets = [arg for value in overrides for arg in ("--set", value)]
    result = run_cli("train", "assets/configs/stage3_lora.yaml", "--set", "base_model=tiny", *sets, timeout=120)
    assert result.returncode == 1
    assert result.stderr.startswith("error: invalid config:")
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert run_dirs(playground_home) == []


def test_max_steps_zero_means_train_by_epochs():
    # max_steps follows transformers: 0 (or -1 in TrainingArguments) hands the length to num_train_epochs.
    from trainers.config import load_config
    from trainers.sft_core import sft_args

    config = load_config("assets/configs/stage1_sft.yaml", {"max_steps": "0", "num_train_epochs": "2"})
    assert config.validate() == []
    args = sft_args(config, Path("unused"), "cpu", False)
    assert (args.max_steps, args.num_train_epochs) == (-1, 2.0)


@pytest.mark.parametrize("model, message", [
    ("nobody/no-such-model", "error: model 'nobody/no-such-model' is not in the local Hugging Face cache and the "
                             "Hub is offline"),
    ("no-such-model", "error: model 'no-such-model' is not a registered name"),
])
def test_cli_unknown_model_offline_is_one_sentence(model, message, run_cli, playground_home):
    result = run_cli("train", "assets/configs/stage3_lora.yaml", "--set", f"base_model={model}", timeout=120)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), result.stderr
    assert "Traceback" not in result.stderr
    assert run_dirs(playground_home) == []


def wait_for(predicate, timeout: float, what: str, process=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        if process is not None and process.poll() is not None:
            raise AssertionError(f"training exited ({process.returncode}) before {what}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def complete_checkpoint(run: Path):
    done = sorted(run.glob("checkpoints/checkpoint-*/trainer_state.json"))
    return done[0].parent if done else None


def test_killed_run_is_marked_interrupted_and_resumes_to_the_end(run_cli, playground_home, learnable_dataset,
                                                                 tmp_path):

    args = [sys.executable, "-m", "trainers", "train", "assets/configs/stage3_lora.yaml", *TINY_SETS,
            "--set", "max_steps=8", "--set", "save_steps=2", "--set", f"dataset={learnable_dataset}"]
    with open(tmp_path / "train.log", "w") as log:  # a file, not a pipe nobody reads
        process = subprocess.Popen(args, cwd=REPO, env=cli_env(), stdout=log, stderr=subprocess.STDOUT)
        try:
            run = wait_for(lambda: next(iter(run_dirs(playground_home)), None), 120, "a run directory", process)
            checkpoint = wait_for(lambda: complete_checkpoint(run), 180, "a checkpoint", process)
            os.kill(process.pid, signal.SIGKILL)
        finally:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    saved_step = int(checkpoint.name.split("-")[1])
    assert json.loads((run / "run.json").read_text())["status"] == "running"  # what a dead process leaves behind
    before_kill = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert before_kill and before_kill[-1]["step"] < 8
    # A save the kill interrupted half-way: weights written, trainer_state.json not yet. Resume must skip it.
    partial = run / "checkpoints" / "checkpoint-7"
    partial.mkdir(exist_ok=True)
    shutil.copy(checkpoint / "adapter_model.safetensors", partial)

    listing = run_cli("runs", timeout=60)
    assert listing.returncode == 0
    assert any(line.startswith(run.name) and " interrupted " in line for line in listing.stdout.splitlines())
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "interrupted" and record["error"]

    resumed = run_cli("resume", run.name, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"from {checkpoint}" in resumed.stdout
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "completed" and record["error"] == ""
    assert Path(record["artifact_dir"], "adapter_model.safetensors").is_file()

    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == list(range(1, 9))  # nothing lost, nothing repeated
    assert metrics[:saved_step] == before_kill[:saved_step]  # the lines up to the checkpoint are kept as they were
    # the schedule continues where it stopped: cosine over 8 steps from lr 1e-3, no restart after the checkpoint
    expected = [1e-3 * 0.5 * (1 + math.cos(math.pi * (step - 1) / 8)) for step in range(1, 9)]
    assert [m["learning_rate"] for m in metrics] == pytest.approx(expected, rel=1e-6)
    state = json.loads((run / "checkpoints" / "checkpoint-8" / "trainer_state.json").read_text())
    assert state["global_step"] == 8
