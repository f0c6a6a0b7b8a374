"""Which stage module trains a config, and what is checked before a run directory exists.

    preflight(config)                                   # raises ValueError / DatasetError with every problem
    result = train_stage(config, run_id, stop, resume_from, on_step)
"""

from trainers.config import TrainConfig
from trainers.models import load_tokenizer
from trainers.sft_core import base_for, build_dataset


def stage_function(config: TrainConfig):
    from trainers.stage1_sft import train_stage1
    from trainers.stage2_instruction import train_stage2
    from trainers.stage3_lora import train_stage3

    return {"stage1": train_stage1, "stage2": train_stage2, "stage3": train_stage3}[config.stage]


def preflight(config: TrainConfig) -> None:
    """Everything that can be checked before a run directory exists: bad values, bad models, bad rows."""
    problems = config.validate()
    if problems:
        raise ValueError("invalid config: " + "; ".join(problems))
    build_dataset(config, load_tokenizer(base_for(config)))


def train_stage(config: TrainConfig, run_id: str, stop_event=None, resume_from: str | None = None, on_step=None):
    """Train one run to the end; `stop_event.is_set()` is checked after every step, `on_step(step, max_steps)`
    reports progress. Returns the measured numbers for run.json plus `cancelled`."""
    return stage_function(config)(config, run_id, stop_event, resume_from, on_step)
