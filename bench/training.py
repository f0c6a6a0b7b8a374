"""Training throughput and memory per method on the embedded model, and the LoRA speedup over a naive baseline.

The naive baseline is what TRL's SFTTrainer gives with its defaults: fp32 weights and math, padded batches, no
packing, gradient checkpointing on (SFTConfig's default), and TRL's LM head, which on CPU scores every position.
The tuned path is the project's default config: bf16 autocast on CPUs with native bf16, padding-free batches, no
checkpointing, the head over labelled positions only. Same data, same steps, same seed, in the same benchmark run.
"""

from bench.common import compute_dtype, emit, matmul_peak_gflops, train_run
from trainers.models import pick_device

BENCH_CONFIGS = {"stage1": "stage1_sft.yaml", "stage2": "stage2_instruction.yaml", "lora": "stage3_lora.yaml",
                 "qlora": "stage3_qlora.yaml"}  # run name -> config file


def dequant_s_per_step(base_model: str, repeats: int = 5) -> float:
    """Seconds a QLoRA step spends turning NF4 weights back into matmul weights, on this machine: bitsandbytes has
    no fused 4-bit matmul on CPU here, so each frozen linear layer dequantizes its weight in the forward and again
    for the input gradient."""
    import time

    import bitsandbytes.functional as bnb
    import torch

    from trainers.models import load_model

    model = load_model(base_model)
    shapes = [tuple(m.weight.shape) for n, m in model.named_modules()
              if isinstance(m, torch.nn.Linear) and "lm_head" not in n]
    dtype = next(model.parameters()).dtype
    del model
    total = 0.0
    for shape in set(shapes):
        packed, state = bnb.quantize_4bit(torch.randn(shape, dtype=dtype), quant_type="nf4", compress_statistics=True)
        bnb.dequantize_4bit(packed, state)
        started = time.perf_counter()
        for _ in range(repeats):
            bnb.dequantize_4bit(packed, state)
        total += shapes.count(shape) * 2 * (time.perf_counter() - started) / repeats
    return total


def qlora_floor(records: dict, base_model: str) -> dict:
    """QLoRA's step is LoRA's step plus the dequantization: the ratio that predicts, beside the one measured."""
    from trainers.runs import read_metrics

    rows = read_metrics(records["lora"]["id"])  # logging_steps=1: one row per step
    gaps = [b["elapsed_s"] - a["elapsed_s"] for a, b in zip(rows, rows[1:], strict=False)]
    lora_step = sum(gaps) / len(gaps) if gaps else None
    dequant = dequant_s_per_step(base_model)
    return {"dequant_s_per_step": round(dequant, 3), "lora_step_s": lora_step and round(lora_step, 3),
            "predicted_from_dequant": lora_step and round(lora_step / (lora_step + dequant), 2)}


def bench_training(steps: int, base_model: str = "embedded") -> dict:
    common = {"max_steps": steps, "save_steps": 0, "base_model": base_model, "logging_steps": 1}
    records = {name: train_run(cfg, common, name) for name, cfg in BENCH_CONFIGS.items()}
    naive = train_run("stage3_lora.yaml", {**common, "bf16": "false", "packing": "false", "padding_free": "false",
                                                 "gradient_checkpointing": "true", "compact_head": "false"},
                      "lora-naive")
    for name, r in records.items():
        emit(f"train_{name}_tokens_per_s", r["tokens_per_second"], "tokens/s", steps=steps,
             final_loss=r["final_loss"], run=r["id"])
    for method, name in (("full", "stage1"), ("lora", "lora"), ("qlora", "qlora")):
        emit(f"peak_mb_{method}", records[name]["peak_memory_mb"], "MB", run=records[name]["id"])
    emit("peak_qlora_vs_full", records["qlora"]["peak_memory_mb"] / records["stage1"]["peak_memory_mb"], "ratio",
         target="<= 0.5")
    emit("train_lora_tokens_per_s", records["lora"]["tokens_per_second"], "tokens/s")
    emit("train_lora_naive_tokens_per_s", naive["tokens_per_second"], "tokens/s", final_loss=naive["final_loss"])
    emit("train_lora_speedup", records["lora"]["tokens_per_second"] / naive["tokens_per_second"], "x",
         target=">= 3")
    # against full Stage 2: the LoRA preset trains Stage 2's rows, and tokens per step set how far the optimizer's
    # fixed cost per step is spread, so only the same data compares the methods
    # LoRA dropout samples a mask per adapted layer; on CPUs where torch's bernoulli_ runs its serial kernel (it takes
    # MKL's only on Intel) that cost about what skipping the weight gradients saves, so the ratio is also given
    # without it (a recipe change, not a faster path: the preset keeps 0.05)
    no_dropout = train_run("stage3_lora.yaml", {**common, "lora_dropout": "0.0"}, "lora-nodropout")
    emit("train_lora_vs_full", records["lora"]["tokens_per_second"] / records["stage2"]["tokens_per_second"], "x",
         target=">= 1.4", full_run=records["stage2"]["id"],
         without_dropout=round(no_dropout["tokens_per_second"] / records["stage2"]["tokens_per_second"], 2))
    emit("train_qlora_vs_lora", records["qlora"]["tokens_per_second"] / records["lora"]["tokens_per_second"], "x",
         target=">= 0.7", **qlora_floor(records, base_model))
    full = records["stage1"]
    device = pick_device()
    dtype = compute_dtype(device)  # MFU against the peak of the dtype the run computed in, not one it cannot use
    peak = matmul_peak_gflops(dtype, device=device)
    achieved = 6 * full["total_params"] * full["tokens_per_second"] / 1e9
    emit("train_full_tokens_per_s", full["tokens_per_second"], "tokens/s")
    emit("train_full_mfu", achieved / peak, "fraction", achieved_gflops=round(achieved, 1), dtype=dtype,
         peak_gflops=round(peak, 1), target=">= 0.4")
    return records
