"""Full fine-tuning vs LoRA vs QLoRA, measured: which runs may be compared and their ratios to the full run. The one
source of the efficiency table the Runs tab shows and of the numbers `python -m evalsuite reproduce` judges.

    picked = pick_comparable(runs.list_runs())        # {"full": record | None, "lora": ..., "qlora": ...}
    rows = efficiency_rows(picked)                     # method -> numbers and ratios (None where one is missing)

Runs are compared only on the same base model and the same dataset: a LoRA run on other data or another model says
nothing about what LoRA saves.
"""

from pathlib import Path

from trainers import runs
from trainers.config import STAGE4
from trainers.sft_core import resolve_dataset

METHODS = ("full", "lora", "qlora")


def comparison_key(record: dict) -> tuple[str, str]:
    """(base model, dataset) with the dataset resolved, so a relative and an absolute path to one file agree."""
    dataset = str(record.get("dataset") or "")
    resolved = Path(resolve_dataset(dataset)) if dataset else None
    return str(record.get("base_model") or ""), str(resolved.resolve()) if resolved and resolved.is_file() else dataset


def pick_comparable(records: list[dict]) -> dict[str, dict | None]:
    """The latest completed run of each method on one (base model, dataset): the pair covering the most methods, the
    most recent among ties. `records` come newest first, as `runs.list_runs()` gives them."""
    done = [r for r in records if r.get("status") == "completed" and r.get("method") in METHODS
            and r.get("stage") not in STAGE4]  # a DPO / GRPO adapter is not the LoRA of an SFT comparison
    groups: dict[tuple, dict[str, dict]] = {}  # insertion order = recency of each pair's newest run
    for record in done:
        groups.setdefault(comparison_key(record), {}).setdefault(record["method"], record)
    if not groups:
        return dict.fromkeys(METHODS)
    best = max(groups.values(), key=len)  # max keeps the first (newest) of equally covered pairs
    return {method: best.get(method) for method in METHODS}


def ratio(value, reference) -> float | None:
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (value, reference))
    return value / reference if numbers and reference else None


def _artifact_mb(record: dict) -> float | None:
    try:
        return runs.artifact_size_mb(record["id"])
    except (OSError, ValueError, KeyError):
        return None


def memory_parts(record: dict) -> dict | None:
    """The estimate's split of a run's memory (MB: weights, gradients + optimizer state, activations, runtime),
    from its saved config: what explains the measured peak. None when the config or model cannot be read."""
    from trainers.config import build_config
    from trainers.estimate import estimate_training, typical_row_tokens

    try:
        config = build_config(runs.read_config(record["id"]))
        try:
            seq_len = typical_row_tokens(config)
        except (ValueError, OSError, KeyError):  # the data moved: size at the bound
            seq_len = config.max_length
        est = estimate_training(config, device=record.get("device") or None, seq_len=seq_len)
    except Exception:  # noqa: BLE001 (an explanation that cannot be had is left out, never a broken table)
        return None
    return {k: est[k] for k in ("weights_mb", "grads_optimizer_mb", "activations_mb", "runtime_mb", "total_mb")}


def efficiency_rows(by_method: dict[str, dict | None], artifact_mb: dict[str, float | None] | None = None) -> dict:
    """method -> the measured numbers and their ratio to the full run (None for a method without a run, and for a
    number or ratio that cannot be had). `artifact_mb` (method -> MB) defaults to each run's artifact on disk.
    ValueError when the runs differ in base model or dataset."""
    present = {m: r for m, r in by_method.items() if r and m in METHODS}
    if len({comparison_key(r) for r in present.values()}) > 1:
        raise ValueError("not comparable: the runs differ in base model or dataset: " + ", ".join(
            f"{m} {r.get('id')} on ({r.get('base_model')}, {r.get('dataset')})" for m, r in present.items()))
    sizes = artifact_mb if artifact_mb is not None else {m: _artifact_mb(r) for m, r in present.items()}
    full, full_mb = present.get("full") or {}, sizes.get("full")
    rows = dict.fromkeys(METHODS)
    for method, r in present.items():
        share = ratio(r.get("trainable_params"), r.get("total_params"))
        rows[method] = {
            "method": method, "run_id": r.get("id"), "base_model": r.get("base_model"), "dataset": r.get("dataset"),
            "peak_memory_mb": r.get("peak_memory_mb"),
            "memory_vs_full": ratio(r.get("peak_memory_mb"), full.get("peak_memory_mb")),
            "trainable_params": r.get("trainable_params"), "total_params": r.get("total_params"),
            "trainable_pct": None if share is None else 100 * share,
            "tokens_per_second": r.get("tokens_per_second"),
            "speed_vs_full": ratio(r.get("tokens_per_second"), full.get("tokens_per_second")),
            "artifact_mb": sizes.get(method), "artifact_vs_full": ratio(sizes.get(method), full_mb),
            "final_loss": r.get("final_loss"), "memory_parts": memory_parts(r) if r.get("id") else None}
    return rows
