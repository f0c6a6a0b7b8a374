"""Stage 2, instruction tuning: every weight trains on {instruction, input?, response} rows, each rendered through a
training template drawn for that row (seeded), so the skill does not hang on one prompt format.

    python -m trainers train assets/configs/stage2_instruction.yaml --set max_steps=20
"""

import random
import threading

from trainers.config import TrainConfig
from trainers.sft_core import train_with_sft
from trainers.stage1_sft import build_full_model
from trainers.templates import CHAT, TRAIN_TEMPLATES, render_with_template

ACCEPTED_FORMATS = ("stage2",)


def training_template(row_index: int, seed: int) -> str:
    """The template of one row: a draw seeded by (seed, row), so a row keeps its template whatever rows come before
    it or how many are rendered (the pre-run estimate renders only the first rows)."""
    return random.Random(f"{seed}:{row_index}").choice(list(TRAIN_TEMPLATES))


def render_rows(records: list[dict], fmt: str, tokenizer, config: TrainConfig) -> list[dict]:
    """{instruction, input?, response} rows -> {"prompt", "completion", "template"}, one training template per row
    (the chat template for all of them when `randomize_templates` is off)."""
    names = [training_template(i, config.template_seed) if config.randomize_templates else CHAT
             for i in range(len(records))]
    return [{"prompt": render_with_template(name, r["instruction"], r.get("input") or "", tokenizer),
             "completion": r["response"].strip(), "template": name} for r, name in zip(records, names, strict=True)]


def train(config: TrainConfig, run_id: str, stop_event: threading.Event | None = None,
          resume_from: str | None = None, on_step=None) -> dict:
    return train_with_sft(config, run_id, build_full_model, render_rows, stop_event, resume_from, on_step)
