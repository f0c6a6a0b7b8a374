"""Stage 3, LoRA and QLoRA: the base is frozen (QLoRA: quantized to 4-bit NF4 by bitsandbytes) and only small
low-rank adapters train. Works on Stage 1 or Stage 2 rows, each rendered the way its own stage renders it, on top of
the base or a Stage 1/2 checkpoint.

    python -m trainers train assets/configs/stage3_lora.yaml --set max_steps=20
    python -m trainers train assets/configs/stage3_qlora.yaml --set init_from=<stage2 run id>
"""

import threading

from trainers import stage1_sft, stage2_instruction
from trainers.config import TrainConfig
from trainers.models import load_model
from trainers.sft_core import train_with_sft

ACCEPTED_FORMATS = stage1_sft.ACCEPTED_FORMATS + stage2_instruction.ACCEPTED_FORMATS


def render_rows(records: list[dict], fmt: str, tokenizer, config: TrainConfig) -> list[dict]:
    """By the rows' format: Stage 1 rows in their fixed phrasing, Stage 2 rows through the training templates."""
    render = stage1_sft.render_rows if fmt in stage1_sft.ACCEPTED_FORMATS else stage2_instruction.render_rows
    return render(records, fmt, tokenizer, config)


def lora_config(config: TrainConfig):
    from peft import LoraConfig

    targets = config.target_modules
    return LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules="all-linear" if targets == ["all-linear"] else list(targets),
                      bias="none", task_type="CAUSAL_LM")


def load_frozen_base(config: TrainConfig, base_path: str, device: str, bf16: bool):
    """The base adapters train on, in the compute dtype (bf16 halves its memory); QLoRA: quantized to 4-bit NF4.
    Loaded by `load_model`, as every model is, so its output head gets the folded input GRPO's sampling needs."""
    from peft import prepare_model_for_kbit_training

    dtype = "bf16" if bf16 else ("fp32" if device == "cpu" else "auto")
    model = load_model(base_path, dtype=dtype, device=device, load_in_4bit=config.method == "qlora")
    if config.method == "qlora":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.gradient_checkpointing)
    return model


def build_adapter_model(config: TrainConfig, base_path: str, device: str, bf16: bool):
    """The frozen base (`load_frozen_base`), adapters in fp32 (PEFT's default cast)."""
    from peft import get_peft_model

    return get_peft_model(load_frozen_base(config, base_path, device, bf16), lora_config(config))


def train(config: TrainConfig, run_id: str, stop_event: threading.Event | None = None,
          resume_from: str | None = None, on_step=None) -> dict:
    return train_with_sft(config, run_id, build_adapter_model, render_rows, stop_event, resume_from, on_step)
