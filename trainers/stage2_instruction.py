"""Stage 2, instruction tuning: every weight trains on {instruction, input, response} rows rendered through a
training template drawn per row (seeded), so the skill does not hang on one prompt format.

    python -m trainers train assets/configs/stage2_instruction.yaml --set max_steps=20
"""

import threading

from trainers.config import TrainConfig
from trainers.sft_core import train_with_sft
from trainers.stage1_sft import build_full_model


def train_stage2(config: TrainConfig, run_id: str, stop_event: threading.Event | None = None,
                 resume_from: str | None = None, on_step=None) -> dict:
    if config.data_format == "stage1":
        raise ValueError("data_format: stage2 trains on instruction rows (instruction, input, response)")
    return train_with_sft(config, run_id, build_full_model, stop_event, resume_from, on_step)
