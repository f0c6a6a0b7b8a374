"""The shared body of every stage: validated rows -> TRL `SFTTrainer` -> artifact + measured numbers in run.json.

    train_with_sft(config, run_id, build_model, render_rows)    # called by trainers/stage*.py, one per stage

Each stage module decides which row formats it takes (trainers/stages.py refuses the others), how its rows are
rendered and how the model is built (all weights, LoRA, or LoRA on a 4-bit base); everything measured and saved is
done here, the same way for every stage.
"""

import os
import shutil
import threading
import time
from pathlib import Path

from trainers import runs
from trainers.config import STAGE4, TrainConfig, build_config
from trainers.data import DatasetError, Problem, load_valid_rows
from trainers.holdout import split_rows
from trainers.models import (adapters_in_step_dtype, count_parameters, load_tokenizer, pick_device, pick_dtype,
                             resolve_model)
from trainers.paths import ASSETS, datasets_dir
from trainers.templates import token_ids


def resolve_dataset(name: str) -> str:
    """A path, a dataset saved in $PLAYGROUND_HOME/datasets (by name, or a public workspace's `saved:` reference), or
    a Hub id (in public mode a Hub-id-shaped name is never looked up on disk)."""
    from trainers.names import hub_only, saved_path

    if hub_only(name):
        return name
    saved = saved_path(name)
    if saved is not None:
        return str(saved)
    for candidate in (Path(name), datasets_dir() / name, datasets_dir() / f"{name}.jsonl", ASSETS.parent / name):
        if candidate.is_file():
            return str(candidate)
    return name


def base_for(config: TrainConfig) -> str:
    """The weights training starts from: the base model, or a Stage 1/2 checkpoint for `init_from`. A Stage 4 run
    may continue a LoRA run's adapter (`adapter_parent`): its weights are then the ones under that adapter."""
    if not config.init_from:
        return resolve_model(config.base_model)
    if Path(config.init_from).is_dir():
        return str(Path(config.init_from).resolve())
    record = runs.read_run(config.init_from)
    if adapter_parent(config, record):
        return base_for(build_config(runs.read_config(config.init_from)))
    if record.get("method") != "full" or not record.get("artifact_dir"):
        kind = "full checkpoint or adapter" if config.stage in STAGE4 else "full checkpoint"
        raise ValueError(f"init_from: run {config.init_from} has no {kind} to start from")
    return record["artifact_dir"]


def adapter_parent(config: TrainConfig, record: dict | None = None) -> dict | None:
    """The record of the LoRA run whose adapter a Stage 4 config goes on training (init_from names a finished LoRA
    or QLoRA run), else None."""
    if config.stage not in STAGE4 or not config.init_from or Path(config.init_from).is_dir():
        return None
    record = record or runs.read_run(config.init_from)
    has_adapter = record.get("method") in ("lora", "qlora") and record.get("artifact_dir")
    return record if has_adapter else None


def checkpoint_under(run_config: dict) -> str:
    """The full checkpoint a run's adapter sits on ("" = the base model itself): its init_from, followed through
    the LoRA runs a Stage 4 run continued, so an adapter trained further still runs on the base it started on."""
    init_from = run_config.get("init_from") or ""
    if not init_from or run_config.get("stage") not in STAGE4 or Path(init_from).is_dir():
        return init_from
    try:
        record = runs.read_run(init_from)
    except (OSError, ValueError):
        return init_from
    return checkpoint_under(runs.read_config(init_from)) if record.get("method") in ("lora", "qlora") else init_from


def use_bf16(config: TrainConfig, device: str) -> bool:
    """bf16 autocast over fp32 master weights. On the 2-core EPYC dev machines a bf16 matmul (oneDNN) runs 3-5x
    faster than fp32 (MKL), so full fine-tuning steps are ~5x faster, not just adapter steps."""
    import torch

    if config.bf16 != "auto":  # a choice of TrainConfig: "auto", "true" or "false"
        return config.bf16 == "true"
    return pick_dtype(device) == torch.bfloat16


def build_datasets(config: TrainConfig, tokenizer, render_rows):
    """(training rows, held-out rows or None, the held-out source rows) as TRL's prompt-completion datasets, rendered
    by the stage's `render_rows(records, fmt, tokenizer, config)`. Every row is rendered before `eval_fraction` of
    them is held out, so the training rows are those of a run without a split, minus the held-out ones.
    DatasetError lists every bad row (shape, or length once rendered); ValueError says a split leaves too few."""
    from datasets import Dataset

    fmt, records, lines = load_valid_rows(resolve_dataset(config.dataset), config.data_format or None, tokenizer,
                                          config.max_length, with_lines=True)
    examples = render_rows(records, fmt, tokenizer, config)
    check_rendered_length(examples, lines, tokenizer, config.max_length, config.dataset)
    train_idx, held_idx = split_rows(records, config.eval_fraction, config.seed)

    def rows(indices):
        return Dataset.from_list([{"prompt": examples[i]["prompt"], "completion": examples[i]["completion"]}
                                  for i in indices])

    return rows(train_idx), rows(held_idx) if held_idx else None, [records[i] for i in held_idx]


def build_dataset(config: TrainConfig, tokenizer, render_rows):
    """The training rows only (what preflight checks and most callers need)."""
    return build_datasets(config, tokenizer, render_rows)[0]


def check_rendered_length(examples: list[dict], lines: list[int], tokenizer, max_length: int, source: str) -> None:
    """Rows as trained (template, system prompt and end-of-turn included) must fit max_length: neither truncated
    (padded batches) nor trained at full length (padding-free batches) behind the user's back."""
    too_long = []
    for line, example in zip(lines, examples, strict=True):
        n = len(token_ids(tokenizer, example["prompt"] + example["completion"])) + 1
        if n > max_length:
            too_long.append(Problem(line, "row", f"{n} tokens once rendered ({example['template']} template), "
                                                 f"longer than max_length {max_length}"))
    if too_long:
        raise DatasetError(too_long, source)


def sft_args(config: TrainConfig, run_dir: Path, device: str, bf16: bool, evaluate: bool = False):
    """`evaluate`: a held-out set is given, so the Trainer's eval loop measures its loss every eval_steps."""
    from trl import SFTConfig

    return SFTConfig(
        output_dir=str(run_dir / "checkpoints"), max_steps=config.max_steps if config.max_steps > 0 else -1,
        num_train_epochs=config.num_train_epochs, per_device_train_batch_size=config.per_device_train_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps, learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler_type, warmup_steps=config.warmup_steps,
        weight_decay=config.weight_decay, logging_steps=config.logging_steps,
        save_strategy="steps" if config.save_steps > 0 else "no", save_steps=max(config.save_steps, 1),
        save_total_limit=1, bf16=bf16, packing=config.packing,
        # padding-free batches are not truncated by TRL; rows were already checked against max_length
        max_length=None if config.padding_free and not config.packing else config.max_length,
        padding_free=config.padding_free and not config.packing, completion_only_loss=True, report_to="none",
        seed=config.seed, data_seed=config.seed,
        # transformers 5 renamed gradient_checkpointing (kept as our key, the name users know) to this
        activation_checkpointing=config.gradient_checkpointing,
        use_cpu=device == "cpu", disable_tqdm=True, dataloader_num_workers=0, save_only_model=False,
        # the Trainer counts the tokens of each trained batch, summed over ranks; padding-free rows carry no pads
        include_num_input_tokens_seen="all" if config.packing or config.padding_free else "non_padding",
        eval_strategy="steps" if evaluate else "no", eval_steps=config.eval_steps,
        per_device_eval_batch_size=config.per_device_train_batch_size,
        prediction_loss_only=True,  # the loss is all we show; gathering every position's logits would cost memory
    )


def train_with_sft(config: TrainConfig, run_id: str, build_model, render_rows,
                   stop_event: threading.Event | None = None, resume_from: str | None = None, on_step=None) -> dict:
    """Train `build_model(config, base_path, device, bf16)` on the config's rows as `render_rows` renders them, and
    record everything in the run."""
    import torch
    from transformers import PrinterCallback

    from trainers.callbacks import MetricsCallback, PeakMemory
    from trainers.compact_loss import sft_trainer_class

    run_dir = runs.run_path(run_id)
    device = pick_device(config.device)
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    torch.manual_seed(config.seed)
    base_path = base_for(config)
    tokenizer = load_tokenizer(base_path)
    dataset, held_out, held_records = build_datasets(config, tokenizer, render_rows)
    if held_records:
        runs.write_held_out(run_id, held_records)
    bf16 = use_bf16(config, device)
    with PeakMemory(device) as memory:
        model = build_model(config, base_path, device, bf16)
        # With a KV cache, transformers skips its packed-sequence detection, so padding-free batches would attend
        # across example boundaries. Training never needs the cache.
        model.config.use_cache = False
        trainable, total = count_parameters(model)
        runs.update_run(run_id, trainable_params=trainable, total_params=total)
        trainer_class = sft_trainer_class(config.compact_head)  # TRL's own SFTTrainer outside the tested TRL
        trainer = trainer_class(model=model, args=sft_args(config, run_dir, device, bf16, held_out is not None),
                                train_dataset=dataset, eval_dataset=held_out, processing_class=tokenizer)
        adapters_in_step_dtype(trainer.model, bf16)
        trainer.remove_callback(PrinterCallback)  # it prints every log dict; metrics.jsonl has them
        callback = MetricsCallback(run_id, stop_event, on_step)
        trainer.add_callback(callback)
        started = time.perf_counter()
        trainer.train(resume_from_checkpoint=resume_from)
        seconds = time.perf_counter() - started - callback.eval_s  # throughput is training's, not the eval loop's
    artifact = save_artifact(trainer, tokenizer, run_dir, config)
    tokens = callback.session_tokens(trainer.state)
    return {"trainable_params": trainable, "total_params": total, "peak_memory_mb": round(memory.peak_mb, 1),
            "tokens_per_second": round(tokens / max(seconds, 1e-9), 1), "tokens_trained": tokens,
            "train_s": round(seconds, 3), "eval_s": round(callback.eval_s, 3), "held_out_rows": len(held_records),
            "world_size": trainer.accelerator.num_processes,  # processes that trained this one model (DDP ranks)
            "final_loss": callback.final_loss(), "artifact_dir": artifact,
            "cancelled": bool(stop_event is not None and stop_event.is_set())}


def save_artifact(trainer, tokenizer, run_dir: Path, config: TrainConfig) -> str | None:
    """A PEFT adapter folder for LoRA/QLoRA, a full checkpoint otherwise. Written to a temp name, then renamed."""
    if not trainer.is_world_process_zero():
        trainer.accelerator.wait_for_everyone()
        return None
    name = "adapter" if config.method in ("lora", "qlora") else "model"
    target, tmp = run_dir / name, run_dir / f".{name}.tmp"
    model = trainer.accelerator.unwrap_model(trainer.model)
    model.save_pretrained(tmp)
    if name == "model":
        tokenizer.save_pretrained(tmp)
    if target.exists():  # a resumed run saves again; a directory cannot be renamed onto a non-empty one
        old = run_dir / f".{name}.old"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, target)
    trainer.accelerator.wait_for_everyone()
    return str(target)
