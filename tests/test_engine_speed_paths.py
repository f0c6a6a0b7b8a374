"""Faster paths must not change what is learned: padding-free batches give the padded loss curve."""

import pytest


def _losses(record) -> list[float]:
    from trainers import runs

    return [m["loss"] for m in runs.read_metrics(record["id"])]


def test_padding_free_matches_padded_loss_curve(tiny_config, train_now, learnable_dataset):
    common = {"dataset": str(learnable_dataset), "max_steps": 4, "learning_rate": 1e-3, "bf16": "false",
              "per_device_train_batch_size": 4}
    padded = train_now(tiny_config("stage1_sft.yaml", padding_free=False, **common))
    free = train_now(tiny_config("stage1_sft.yaml", padding_free=True, **common))
    assert padded["status"] == free["status"] == "completed"
    assert len(_losses(free)) == 4 and _losses(free) == pytest.approx(_losses(padded), rel=1e-3)


def test_training_disables_the_kv_cache_so_packed_rows_stay_separate(tiny_path):
    """With a cache, transformers skips packed-sequence detection and rows attend across boundaries."""
    import torch
    from transformers import AutoModelForCausalLM
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    model = AutoModelForCausalLM.from_pretrained(tiny_path).eval()
    rows = [{"input_ids": list(range(100, 130))}, {"input_ids": list(range(200, 217))}]
    padded = DataCollatorForLanguageModeling(pad_token_id=0)(rows)
    flat = DataCollatorForLanguageModeling(pad_token_id=0, padding_free=True)(rows)
    with torch.no_grad():
        reference = model(**padded, use_cache=False).loss
        separate = model(**flat, use_cache=False).loss
        leaking = model(**flat, use_cache=True).loss
    assert separate == pytest.approx(reference.item(), rel=1e-4)
    assert abs(leaking.item() - reference.item()) > 1e-4  # why sft_core turns the cache off


def test_a_frozen_model_computes_the_last_position_logits_without_copying_the_head_per_row(tiny_path):
    """Prefill keeps the last position only; torch's matmul on that strided slice with a weight that needs no
    gradient expands the head weight once per row (seconds per 64-row prefill). `load_model` folds the rows into
    one mm instead: no bmm runs, and the logits are those of the full forward."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from trainers.models import load_model

    model = load_model(str(tiny_path), dtype="fp32").eval().requires_grad_(False)
    ids = torch.randint(5, 1000, (6, 9))
    with torch.inference_mode():
        full = model(input_ids=ids).logits[:, -1]
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            last = model(input_ids=ids, logits_to_keep=1).logits[:, -1]
    ops = {event.name for event in prof.events()}
    assert "aten::mm" in ops and "aten::bmm" not in ops, sorted(op for op in ops if "mm" in op)
    assert torch.allclose(last, full, atol=1e-5)


FAULTS = """
import resource, sys, torch
if sys.argv[1] == "keep":
    from trainers.malloc import keep_freed_memory
    assert keep_freed_memory()
for _ in range(5):
    torch.ones(16 * 2**20).sum()  # warm-up: the heap settles where the block goes
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    torch.ones(16 * 2**20).sum()  # 64 MB (a step's logits are about that): above glibc's largest mmap threshold
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not __import__("platform").libc_ver()[0] == "glibc", reason="a glibc malloc setting")
def test_a_job_process_reuses_freed_memory_instead_of_faulting_in_fresh_pages():
    import subprocess
    import sys

    def faults(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, check=True)
        return int(out.stdout.split()[-1])

    fresh, kept = faults("plain"), faults("keep")
    assert fresh > 20 * 16384 * 0.9  # a 64 MB tensor is 16,384 pages, faulted in again every round
    assert kept < fresh / 10, (fresh, kept)
