"""Stage 1, plain SFT: every weight trains on {prompt, output} rows, each task asked in one fixed phrasing and
rendered the same way every time (the tokenizer's chat template), so the model learns that phrasing and no other.

    python -m trainers train assets/configs/stage1_sft.yaml --set max_steps=20
"""

import threading

from trainers.config import TrainConfig
from trainers.sft_core import train_with_sft
from trainers.templates import CHAT, render_with_template

ACCEPTED_FORMATS = ("stage1",)


def render_rows(records: list[dict], fmt: str, tokenizer, config: TrainConfig | None = None) -> list[dict]:
    """{prompt, output} rows -> {"prompt", "completion", "template"}: the fixed phrasing, always the chat template."""
    return [{"prompt": render_with_template(CHAT, r["prompt"], "", tokenizer), "completion": r["output"].strip(),
             "template": CHAT} for r in records]


def build_full_model(config: TrainConfig, base_path: str, device: str, bf16: bool):
    """fp32 master weights; with bf16 on, the Trainer runs forward/backward under bf16 autocast."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)
    return model.to(device)


def train(config: TrainConfig, run_id: str, stop_event: threading.Event | None = None,
          resume_from: str | None = None, on_step=None) -> dict:
    return train_with_sft(config, run_id, build_full_model, render_rows, stop_event, resume_from, on_step)
