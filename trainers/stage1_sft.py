"""Stage 1, plain SFT: every weight trains on {prompt, output} rows, one fixed phrasing per task.

    python -m trainers train assets/configs/stage1_sft.yaml --set max_steps=20
"""

import threading

from trainers.config import TrainConfig
from trainers.sft_core import train_with_sft


def build_full_model(config: TrainConfig, base_path: str, device: str, bf16: bool):
    """fp32 master weights; with bf16 on, the Trainer runs forward/backward under bf16 autocast."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)
    return model.to(device)


def train_stage1(config: TrainConfig, run_id: str, stop_event: threading.Event | None = None,
                 resume_from: str | None = None, on_step=None) -> dict:
    return train_with_sft(config, run_id, build_full_model, stop_event, resume_from, on_step)
