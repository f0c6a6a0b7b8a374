"""Several processes at once: `torchrun --nproc_per_node 2` (DDP over gloo on CPU) trains one shared model into one
run, and processes building the same cached model at the same time (as torchrun's ranks do on first use) all
succeed."""

import json
import subprocess
import sys

import pytest

from conftest import REPO, cli_env

# Every row renders to the same number of tokens (digits are single tokens), so a step's token count is known.
UNIFORM = [{"prompt": f"Echo the number {n}.", "output": f"{n}"} for n in range(1000, 1064)]


@pytest.mark.distributed
def test_torchrun_two_ranks_train_one_shared_model(write_jsonl, playground_home, tiny_tokenizer, tmp_path):
    from trainers.stage1_sft import render_rows

    lengths = {len(tiny_tokenizer(e["prompt"] + e["completion"] + tiny_tokenizer.eos_token,
                                  add_special_tokens=False)["input_ids"])
               for e in render_rows(UNIFORM, "stage1", tiny_tokenizer)}
    assert len(lengths) == 1, lengths
    [length] = lengths
    data = write_jsonl(UNIFORM, "uniform.jsonl")

    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "trainers", "train", "assets/configs/stage1_sft.yaml", "--set", "base_model=tiny",
               "--set", "max_steps=3", "--set", "max_length=128", "--set", "per_device_train_batch_size=2",
               "--set", "save_steps=0", "--set", f"dataset={data}"]
    result = subprocess.run(command, cwd=REPO, env=cli_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]

    [run] = list((playground_home / "runs").iterdir())  # the ranks agreed on one run id
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "completed" and record["error"] == ""
    assert record["world_size"] == 2  # the Trainer's accelerator saw a 2-process group
    artifacts = sorted(p.name for p in run.iterdir() if p.is_dir())
    assert artifacts == ["checkpoints", "model"] or artifacts == ["model"]
    assert (run / "model" / "model.safetensors").is_file()
    assert result.stdout.count("completed: final loss") == 1  # one report, from rank 0

    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2, 3]  # logged once, not once per rank
    # Each step took 2 rows on each rank: 3 steps are 12 of the 64 rows (one process alone would be at 6/64).
    assert metrics[-1]["epoch"] == pytest.approx(12 / 64)
    previous = 0.0
    for m in metrics:  # and tokens/s counts both ranks' tokens: 2 ranks x 2 rows x length per step
        tokens = m["tokens_per_second"] * (m["elapsed_s"] - previous)
        previous = m["elapsed_s"]
        assert tokens == pytest.approx(2 * 2 * length, rel=0.05), m
    assert record["trainable_params"] == record["total_params"] > 3_000_000


def test_processes_building_the_same_model_at_once_all_succeed(tiny_path, model_cache, tmp_path):
    # A fresh cache that already holds the converted embedded model (tiny borrows its tokenizer), but no tiny.
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "embedded-bf16").symlink_to(model_cache / "embedded-bf16")
    code = "from trainers.models import resolve_model; print(resolve_model('tiny'))"
    processes = [subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=cli_env(PLAYGROUND_CACHE=str(cache)),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=180) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], [err[-2000:] for _, err in outputs]
    assert {out.strip().splitlines()[-1] for out, _ in outputs} == {str(cache / "tiny-llama")}
    assert sorted(p.name for p in cache.iterdir()) == ["embedded-bf16", "tiny-llama"]  # no leftovers
    assert (cache / "tiny-llama" / "model.safetensors").stat().st_size == (tiny_path / "model.safetensors").stat(
    ).st_size


@pytest.mark.parametrize("preset, sets, metric", [
    ("stage4_dpo", ["max_length=256", "per_device_train_batch_size=2"], "rewards/margins"),
    ("stage4_grpo", ["per_device_train_batch_size=4", "num_generations=2", "max_completion_length=6"], "reward")])
def test_torchrun_two_ranks_train_one_stage4_adapter(preset, sets, metric, playground_home, tiny_path):
    """DPO and GRPO run unchanged under torchrun: one run, one adapter, each step logged once (by rank 0)."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "trainers", "train", f"assets/configs/{preset}.yaml", "--set", "base_model=tiny",
               "--set", "max_steps=2", "--set", "logging_steps=1", "--set", "save_steps=0",
               *[arg for s in sets for arg in ("--set", s)]]
    result = subprocess.run(command, cwd=REPO, env=cli_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]

    [run] = list((playground_home / "runs").iterdir())
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "completed" and record["world_size"] == 2, record["error"]
    assert (run / "adapter" / "adapter_model.safetensors").is_file()
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2] and all(metric in m for m in metrics)
    if preset == "stage4_grpo":  # samples come from rank 0 alone: 4 per logged step, not 8
        samples = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
        assert [s["step"] for s in samples] == [1] * 4 + [2] * 4
