"""Which stage module trains a config, and what is checked before a run directory exists.

    preflight(config)                                   # raises ValueError / DatasetError with every problem
    result = train_stage(config, run_id, stop, resume_from, on_step)

A config reaches its trainer in three hops: `train_stage` -> the stage module (`trainers/stage1_sft.py`, ...: its row
formats, renderer and model builder) -> the shared body: `sft_core.train_with_sft` for the SFT stages,
`stage4_core.train_stage4` for DPO and GRPO (whose modules also build their own datasets: `build_dataset`).
"""

from trainers import stage1_sft, stage2_instruction, stage3_lora, stage4_dpo, stage4_grpo
from trainers.config import TrainConfig
from trainers.data import describe_format, detect_format, load_rows
from trainers.models import load_tokenizer
from trainers.sft_core import base_for, build_dataset, resolve_dataset

STAGE_MODULES = {"stage1": stage1_sft, "stage2": stage2_instruction, "stage3": stage3_lora,
                 "stage4_dpo": stage4_dpo, "stage4_grpo": stage4_grpo}


def _other_stages_for(fmt: str, refusing: str) -> str:
    """'use stage1, or stage3 which takes either', from the stages' own accepted formats."""
    takers = [name if len(module.ACCEPTED_FORMATS) == 1 else f"{name} which takes either"
              for name, module in STAGE_MODULES.items() if fmt in module.ACCEPTED_FORMATS and name != refusing]
    if not takers:
        return "no stage trains on them"
    return "use " + ", or ".join(takers)


def format_refusal(stage: str, fmt: str, where: str) -> str | None:
    """None when `stage` trains on `fmt` rows, else one sentence: what the stage takes, what it got, what to use."""
    accepted = STAGE_MODULES[stage].ACCEPTED_FORMATS
    if fmt in accepted:
        return None
    takes = " or ".join(describe_format(f) for f in accepted)
    return f"{stage} trains on {takes}; {where} {describe_format(fmt)}: {_other_stages_for(fmt, stage)}"


def training_format(config: TrainConfig, rows) -> str | None:
    """The row format the config's stage will train on: `data_format` if set, else the one detected in `rows`
    (None: no known format, which validation reports row by row). ValueError when the stage does not take it."""
    if config.data_format:
        fmt, where = config.data_format, f"data_format={config.data_format} asks it to train on"
    else:
        fmt, where = detect_format(rows), f"{config.dataset} has"
    refusal = format_refusal(config.stage, fmt, where) if fmt else None
    if refusal:
        raise ValueError(refusal)
    return fmt


def check_training_format(config: TrainConfig) -> str | None:
    return training_format(config, load_rows(resolve_dataset(config.dataset)))


def preflight(config: TrainConfig) -> None:
    """Everything that can be checked before a run directory exists: bad values, rows the stage does not train on,
    what the model's config says of the values, the server's caps, bad rows (each with its line), then the caps that
    need the rows or the model."""
    from trainers import caps
    from trainers.validate import check_config

    problems = check_config(config, with_model=False)
    if problems:
        raise ValueError("invalid config: " + "; ".join(problems))
    check_training_format(config)  # from the rows alone: before any model or tokenizer is looked up
    problems = check_config(config)
    if problems:
        raise ValueError("invalid config: " + "; ".join(problems))
    refused = caps.training_problems(config)
    if refused:
        raise caps.CapExceeded("; ".join(refused))
    module, tokenizer = STAGE_MODULES[config.stage], load_tokenizer(base_for(config))
    if hasattr(module, "build_dataset"):  # Stage 4: pairs or prompts, not prompt-completion rows
        dataset = module.build_dataset(config, tokenizer)
    else:
        dataset = build_dataset(config, tokenizer, module.render_rows)
    refused = caps.refusal("rows", len(dataset)) or caps.memory_problem(config)
    if refused:
        raise caps.CapExceeded(refused)


def train_stage(config: TrainConfig, run_id: str, stop_event=None, resume_from: str | None = None, on_step=None):
    """Train one run to the end; `stop_event.is_set()` is checked after every step, `on_step(step, max_steps)`
    reports progress. Returns the measured numbers for run.json plus `cancelled`."""
    check_training_format(config)  # a resumed run skips preflight; its rows may have changed since
    return STAGE_MODULES[config.stage].train(config, run_id, stop_event, resume_from, on_step)
