"""The shared body of the Stage 4 trainers, DPO (trainers/stage4_dpo.py) and GRPO (trainers/stage4_grpo.py):
the policy model, the TrainingArguments fields both TRL configs take, and the run's measured numbers.

    result = train_stage4(config, run_id, make_trainer, metric_keys, stop_event, resume_from, on_step)

`make_trainer(model, peft_config, tokenizer, run_dir, device, bf16)` is the stage's own: it builds its dataset and
its TRL trainer. Everything measured and saved is done here, the way trainers/sft_core.py does it for SFT.

The reference model is the starting model, and never a second copy of the weights (`ref_model` stays None):
- a fresh adapter (the default) on the base or on an `init_from` checkpoint: TRL wraps the model with our LoRA config
  and computes the reference pass with the adapter disabled, i.e. on exactly the weights training started from;
- `init_from` naming a LoRA run: that run's adapter is loaded trainable on the weights under it, and TRL copies it
  into a frozen adapter named "ref" before the first step, so the reference is the starting adapter. The copy is
  dropped before saving: the run's adapter folder holds one adapter, loadable like any other.
"""

import threading
import time

from trainers import runs
from trainers.config import TrainConfig
from trainers.models import adapters_in_step_dtype, load_tokenizer, pick_device
from trainers.sft_core import adapter_parent, base_for, save_artifact, use_bf16
from trainers.stage3_lora import load_frozen_base, lora_config

REFERENCE_ADAPTER = "ref"  # the name TRL gives its frozen copy of a pretrained adapter


def build_policy(config: TrainConfig, base_path: str, device: str, bf16: bool):
    """(model, peft_config): the frozen weights with a LoRA config for TRL to apply, or, when init_from names a LoRA
    run, a PeftModel carrying that run's adapter as the trainable "default" (and peft_config None)."""
    from peft import PeftModel

    base = load_frozen_base(config, base_path, device, bf16)
    parent = adapter_parent(config)
    if parent is None:
        return base, lora_config(config)
    return PeftModel.from_pretrained(base, parent["artifact_dir"], is_trainable=True), None


def check_parent(config: TrainConfig) -> None:
    """A LoRA run's adapter goes on training only on the base it was trained on (the run keeps its base_model)."""
    parent = adapter_parent(config)
    if parent and parent.get("base_model") != config.base_model:
        raise ValueError(f"init_from: run {config.init_from} trained an adapter on base model "
                         f"'{parent.get('base_model')}', but base_model is '{config.base_model}'")


def count_policy_parameters(model) -> tuple[int, int]:
    """(trainable, total) without TRL's frozen reference adapter: it is a training-time copy, not part of the run."""
    from trainers.models import count_parameters

    trainable, total = count_parameters(model)
    reference = sum(p.numel() for name, p in model.named_parameters() if f".{REFERENCE_ADAPTER}." in name)
    return trainable, total - reference


def common_args(config: TrainConfig, run_dir, device: str, bf16: bool) -> dict:
    """The fields DPOConfig and GRPOConfig share with SFTConfig (trainers/sft_core.sft_args), from one config.
    TRL turns gradient checkpointing on by default; on a 135M model it only costs time, so it follows our config
    (off unless asked), under both of transformers' names."""
    return dict(
        output_dir=str(run_dir / "checkpoints"), max_steps=config.max_steps if config.max_steps > 0 else -1,
        num_train_epochs=config.num_train_epochs, per_device_train_batch_size=config.per_device_train_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps, learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler_type, warmup_steps=config.warmup_steps,
        weight_decay=config.weight_decay, logging_steps=config.logging_steps,
        save_strategy="steps" if config.save_steps > 0 else "no", save_steps=max(config.save_steps, 1),
        save_total_limit=1, bf16=bf16, report_to="none", seed=config.seed, data_seed=config.seed,
        gradient_checkpointing=config.gradient_checkpointing, activation_checkpointing=config.gradient_checkpointing,
        use_cpu=device == "cpu", disable_tqdm=True, dataloader_num_workers=0, save_only_model=False,
        beta=config.beta,
    )


def drop_reference_adapter(model) -> None:
    if REFERENCE_ADAPTER in getattr(model, "peft_config", {}):
        model.delete_adapter(REFERENCE_ADAPTER)
        model.set_adapter("default")


def train_stage4(config: TrainConfig, run_id: str, make_trainer, metric_keys: tuple[str, ...],
                 stop_event: threading.Event | None = None, resume_from: str | None = None, on_step=None) -> dict:
    """Build the policy, let the stage build its trainer, train, save the adapter; the numbers for run.json."""
    import torch
    from transformers import PrinterCallback

    from trainers.callbacks import MetricsCallback, PeakMemory

    run_dir = runs.run_path(run_id)
    device = pick_device(config.device)
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    torch.manual_seed(config.seed)
    base_path = base_for(config)
    tokenizer = load_tokenizer(base_path)
    bf16 = use_bf16(config, device)
    with PeakMemory(device) as memory:
        model, peft_config = build_policy(config, base_path, device, bf16)
        trainer = make_trainer(model, peft_config, tokenizer, run_dir, device, bf16)
        adapters_in_step_dtype(trainer.model, bf16)
        trainable, total = count_policy_parameters(trainer.model)
        runs.update_run(run_id, trainable_params=trainable, total_params=total)
        trainer.remove_callback(PrinterCallback)  # it prints every log dict; metrics.jsonl has them
        callback = MetricsCallback(run_id, stop_event, on_step, metric_keys)
        trainer.add_callback(callback)
        started = time.perf_counter()
        trainer.train(resume_from_checkpoint=resume_from)
        seconds = time.perf_counter() - started
    drop_reference_adapter(trainer.accelerator.unwrap_model(trainer.model))
    artifact = save_artifact(trainer, tokenizer, run_dir, config)
    tokens = callback.session_tokens(trainer.state)
    # tokens_trained and train_s, as the SFT stages record them, are what trainers/timing.py calibrates a job from
    return {"trainable_params": trainable, "total_params": total, "peak_memory_mb": round(memory.peak_mb, 1),
            "tokens_per_second": round(tokens / max(seconds, 1e-9), 1), "tokens_trained": tokens,
            "train_s": round(seconds, 3), "world_size": trainer.accelerator.num_processes,
            "final_loss": callback.final_loss(), "artifact_dir": artifact,
            "cancelled": bool(stop_event is not None and stop_event.is_set())}
