"""Stage 4 speed on the embedded model: DPO tokens/s and GRPO seconds per step, each against TRL's own defaults on the
same data, LoRA config and steps, side by side in one run.

    python -m bench --only stage4 [--quick]

The baseline is what DPOTrainer / GRPOTrainer do with their defaults where ours differ: gradient checkpointing on
(TRL turns it on for every model; on a 135M model it only recomputes the forward), the fused head scoring every
position on a CPU, prompt and padding too (ours scores completion tokens only, trainers/compact_fused.py), and bf16
autocast (TRL sets bf16=True unless fp16 is asked for). On a CPU without native bf16 that forced bf16 is emulated,
~100x slower (4 DPO steps did not finish in 13 minutes on the AVX2 machine), a ratio that would measure the
emulation, not TRL; there the baseline runs fp32 as the app does, so only the other defaults differ. Both load
the model through `trainers.models.load_model`, so the baseline's sampling has the folded output head too (a model
TRL loads itself would not). GRPO's step is split into generation (sampling the group, `generation_s` in
metrics.jsonl) and the rest (scoring, the reference pass, the policy update).
"""

from bench.common import compute_dtype, emit, train_run
from trainers import runs
from trainers.models import cpu_has_fast_bf16, pick_device

TRL_DEFAULTS = {"gradient_checkpointing": "true", "bf16": "true", "compact_head": "false"}


def trl_defaults(device: str) -> tuple[dict, str]:
    """TRL's defaults where ours differ, and how the baseline is described; bf16 only where it is not emulated."""
    if device == "cpu" and not cpu_has_fast_bf16():
        return ({**TRL_DEFAULTS, "bf16": "false"},
                "gradient checkpointing on, TRL's head over every position; fp32 (forced bf16 is emulated here)")
    return TRL_DEFAULTS, "gradient checkpointing on, TRL's head over every position, bf16 forced"


def _mean_after_first(rows: list[dict], key: str) -> float | None:
    """The mean of a per-step number, the first step left out (it pays for warm-up)."""
    values = [r[key] for r in rows[1:] if r.get(key) is not None] or [r[key] for r in rows if r.get(key) is not None]
    return sum(values) / len(values) if values else None


def bench_dpo(steps: int, base_model: str = "embedded") -> dict:
    common = {"base_model": base_model, "max_steps": steps, "save_steps": 0}
    defaults, described = trl_defaults(pick_device("auto"))
    ours = train_run("stage4_dpo.yaml", common, "dpo")
    naive = train_run("stage4_dpo.yaml", {**common, **defaults}, "dpo-trl-defaults")
    dtype = compute_dtype(pick_device("auto"))
    emit("train_dpo_tokens_per_s", ours["tokens_per_second"], "tokens/s", dtype=dtype, steps=steps,
         margin=runs.read_metrics(ours["id"])[-1].get("rewards/margins"), peak_mb=ours["peak_memory_mb"])
    emit("train_dpo_trl_defaults_tokens_per_s", naive["tokens_per_second"], "tokens/s", steps=steps)
    emit("train_dpo_speedup", ours["tokens_per_second"] / max(naive["tokens_per_second"] or 1e-9, 1e-9), "x",
         baseline=f"TRL DPOTrainer defaults: {described}")
    return {"dpo": ours, "dpo_naive": naive}


def bench_grpo(steps: int, base_model: str = "embedded") -> dict:
    common = {"base_model": base_model, "max_steps": steps, "save_steps": 0}
    defaults, described = trl_defaults(pick_device("auto"))
    ours = train_run("stage4_grpo.yaml", common, "grpo")
    naive = train_run("stage4_grpo.yaml", {**common, **defaults}, "grpo-trl-defaults")
    step_s, naive_s = (_mean_after_first(runs.read_metrics(r["id"]), "step_time") for r in (ours, naive))
    generation_s = _mean_after_first(runs.read_metrics(ours["id"]), "generation_s")
    metrics = runs.read_metrics(ours["id"])
    emit("grpo_step_s", step_s, "s", dtype=compute_dtype(pick_device("auto")), steps=steps,
         generation_share=generation_s / step_s if step_s and generation_s is not None else None,
         training_share=1 - generation_s / step_s if step_s and generation_s is not None else None,
         reward_first=metrics[0].get("reward") if metrics else None,
         reward_last=metrics[-1].get("reward") if metrics else None)
    emit("grpo_trl_defaults_step_s", naive_s, "s", steps=steps)
    emit("grpo_speedup", naive_s / step_s if step_s and naive_s else None, "x",
         baseline=f"TRL GRPOTrainer defaults: {described}; same prompts, group size and completion length")
    return {"grpo": ours, "grpo_naive": naive}


def bench_stage4(steps: int, base_model: str = "embedded") -> dict:
    return {**bench_dpo(steps, base_model), **bench_grpo(steps, base_model)}
