"""Before a run starts: how many parameters will train and roughly how much memory it needs, computed from the
model's config alone. The model is built on the `meta` device (shapes, no weights), so this takes about a second
even for a multi-billion-parameter Hub model that is in the local cache.

    from trainers.estimate import estimate_training
    est = estimate_training(load_config("assets/configs/stage3_lora.yaml"))
    est["trainable_params"], est["total_mb"]

The numbers are a sketch meant to compare methods (rows padded to `seq_len`: max_length unless told, or
`typical_row_tokens(config)` measured on the dataset); a finished run records the measured peak in run.json
(`peak_memory_mb`).
"""

import functools

from trainers.config import TrainConfig
from trainers.sft_core import base_for, use_bf16
from trainers.templates import token_ids

MB = 2**20
CPU_RUNTIME_MB = 1000  # process RSS besides model and batch (libraries, tokenizer, dataset, trainer): measured
# ~1.0-1.3 GB for a tiny-model run on CPU, where the measured peak is the whole process RSS
NF4_BYTES = 0.5 + 0.016  # 4 bits per weight plus (double-quantized) block scales


def _matches(name: str, targets: list[str]) -> bool:
    """PEFT's rule for a list of target names: the module name equals one or ends with '.<target>'."""
    return any(name == t or name.endswith("." + t) for t in targets)


def _meta_model(path: str):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(path)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    # Without a dtype, from_config leaves torch's default dtype alone. That default is process-wide: set and reset
    # here while the app's hub loads its bf16 base in another thread, it gave that base fp32 weights among bf16
    # ones. Shapes are all an estimate needs.
    config.dtype = None
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config), config


@functools.lru_cache(maxsize=8)
def linear_module_names(path: str) -> tuple[str, ...]:
    """Names of the Linear modules LoRA could adapt (the output head excluded), from the config alone."""
    import torch

    model, _ = _meta_model(path)
    output = model.get_output_embeddings()
    return tuple(n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and m is not output)


def model_context(path: str) -> int | None:
    from transformers import AutoConfig

    return getattr(AutoConfig.from_pretrained(path), "max_position_embeddings", None)


def count_trainable(model, config: TrainConfig) -> dict:
    """Total parameters, LoRA parameters (r * (in + out) per adapted Linear) and weights 4-bit would quantize."""
    import torch

    total = sum(p.numel() for p in model.parameters())
    output = model.get_output_embeddings()
    linears = {n: m for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and m is not output}
    targets = list(config.target_modules)
    adapted = linears if targets == ["all-linear"] else {n: m for n, m in linears.items() if _matches(n, targets)}
    lora = sum(config.lora_r * (m.in_features + m.out_features) for m in adapted.values())
    quantizable = sum(m.weight.numel() for m in linears.values())
    return {"total": total, "lora": lora, "adapted_modules": len(adapted), "quantizable": quantizable}


_LENGTHS: dict[tuple, tuple[list[int], int]] = {}
LENGTHS_KEPT = 32


def row_token_lengths(config: TrainConfig, sample: int = 512) -> tuple[list[int], int]:
    """(sorted token counts of the first `sample` rows of the config's dataset, rendered as the stage renders them;
    the number of rows in the dataset). The memory and the time estimates both start from these. Kept per dataset
    file version and the settings that change a rendering, because the tabs ask again on every form change."""
    import os

    from trainers.sft_core import resolve_dataset
    from trainers.stages import check_training_format

    check_training_format(config)  # ValueError for rows the stage does not train on: nothing to size
    path = resolve_dataset(config.dataset)
    key = (base_for(config), path, os.path.getmtime(path) if os.path.isfile(path) else None, config.stage,
           config.data_format, config.randomize_templates, config.template_seed, sample)
    if key not in _LENGTHS:
        if len(_LENGTHS) >= LENGTHS_KEPT:
            _LENGTHS.clear()
        _LENGTHS[key] = _measure_row_tokens(config, path, sample)
    return _LENGTHS[key]


def _measure_row_tokens(config: TrainConfig, path: str, sample: int) -> tuple[list[int], int]:
    from trainers.data import load_valid_rows
    from trainers.models import load_tokenizer
    from trainers.stages import STAGE_MODULES

    tokenizer = load_tokenizer(base_for(config))
    fmt, records = load_valid_rows(path, config.data_format or None)
    module = STAGE_MODULES[config.stage]
    examples = module.render_rows(records[:sample], fmt, tokenizer, config)
    if hasattr(module, "trained_tokens"):  # DPO: a row is a pair; GRPO: a prompt and the completion it samples
        return sorted(module.trained_tokens(examples, tokenizer, config)), len(records)
    lengths = sorted(len(token_ids(tokenizer, e["prompt"] + e["completion"])) for e in examples)
    return lengths, len(records)


def typical_row_tokens(config: TrainConfig, quantile: float = 0.95, sample: int = 512,
                       lengths: list[int] | None = None) -> int:
    """Tokens in a long-ish training row of the config's dataset (the 95th percentile of the first rows, rendered as
    the stage renders them), capped at max_length: batches are padded to their longest row, not to max_length."""
    lengths = sorted(row_token_lengths(config, sample)[0] if lengths is None else lengths)
    return min(config.max_length, lengths[int(quantile * (len(lengths) - 1))]) if lengths else config.max_length


def _activation_bytes(model_config, config: TrainConfig, act_bytes: int, seq_len: int) -> float:
    """Activations kept for backward, for batch x seq_len tokens (Korthikanti et al.'s ~34 bytes per hidden unit
    per token per layer at 16-bit, plus the attention scores), and the fp32 logits with their gradient."""
    tokens = config.per_device_train_batch_size * seq_len
    hidden = getattr(model_config, "hidden_size", 0) or getattr(model_config, "n_embd", 0)
    layers = getattr(model_config, "num_hidden_layers", 0) or getattr(model_config, "n_layer", 0)
    heads = getattr(model_config, "num_attention_heads", 1)
    vocab = getattr(model_config, "vocab_size", 0)
    per_layer = tokens * (hidden * 17 * act_bytes + heads * seq_len * act_bytes * 2.5)
    if config.gradient_checkpointing:  # only each layer's input is kept, one layer is recomputed at a time
        layer_bytes = tokens * hidden * act_bytes * layers + per_layer
    else:
        layer_bytes = per_layer * layers
    return layer_bytes + tokens * vocab * 4 * 3


def estimate_training(config: TrainConfig, device: str | None = None, seq_len: int | None = None) -> dict:
    """Parameters that train and a memory estimate (MB) split into weights, gradients + optimizer, activations.
    `seq_len` is the padded row length to assume (see typical_row_tokens); default max_length, an upper bound."""
    from trainers.models import pick_device

    device = device or pick_device(config.device)
    model, model_config = _meta_model(base_for(config))
    counts = count_trainable(model, config)
    bf16 = use_bf16(config, device)
    half = 2 if bf16 else 4
    total, lora = counts["total"], counts["lora"]
    if config.method == "full":
        trainable, weights, optimizer = total, 4 * total, 12 * total  # fp32 master weights; grads + AdamW m, v
    else:
        trainable, optimizer = lora, 12 * lora
        if config.method == "qlora":
            weights = NF4_BYTES * counts["quantizable"] + half * (total - counts["quantizable"]) + 4 * lora
        else:
            weights = half * total + 4 * lora
    seq_len = min(seq_len or config.max_length, config.max_length)
    activations = _activation_bytes(model_config, config, half, seq_len)
    overhead = CPU_RUNTIME_MB * MB if device == "cpu" else 0
    parts = {"weights_mb": weights / MB, "grads_optimizer_mb": optimizer / MB, "activations_mb": activations / MB,
             "runtime_mb": overhead / MB}
    total += 0 if config.method == "full" else lora  # PEFT adds the adapters to the model
    return {"total_params": total, "trainable_params": trainable, "trainable_pct": 100 * trainable / max(total, 1),
            "adapted_modules": counts["adapted_modules"] if config.method != "full" else 0, "device": device,
            "bf16": bf16, "seq_len": seq_len, **{k: round(v, 1) for k, v in parts.items()},
            "total_mb": round(sum(parts.values()), 1)}
