"""Stage 4a, preference tuning with DPO: LoRA adapters learn from {prompt, chosen, rejected} pairs to raise the
likelihood of the chosen answer over the rejected one, relative to the reference model (the starting model: see
trainers/stage4_core.py). The prompt is rendered through the chat template, as Stage 1 renders it, so a DPO run
answers chat the way the SFT stages do.

    python -m trainers train assets/configs/stage4_dpo.yaml --set max_steps=20
    python -m trainers train assets/configs/stage4_dpo.yaml --set init_from=<stage3 run id>   # go on with its adapter
    python -m trainers pairs --run RUN_ID --prompts assets/datasets/grpo_prompts.jsonl --out pairs.jsonl

metrics.jsonl gets TRL's preference numbers besides the loss: rewards/chosen and rewards/rejected (beta times the
policy's log-ratio to the reference on each side), rewards/margins (their difference) and rewards/accuracies (the
share of pairs whose chosen side is ahead).
"""

import threading

from trainers.config import TrainConfig
from trainers.data import DatasetError, Problem, load_valid_rows
from trainers.sft_core import resolve_dataset
from trainers.stage4_core import check_parent, common_args, train_stage4
from trainers.templates import CHAT, render_with_template, token_ids

ACCEPTED_FORMATS = ("preference",)
METRIC_KEYS = ("rewards/", "logps/chosen", "logps/rejected", "mean_token_accuracy", "entropy")


def render_rows(records: list[dict], fmt: str, tokenizer, config: TrainConfig | None = None) -> list[dict]:
    """{prompt, chosen, rejected} -> the prompt through the chat template, both answers stripped (TRL appends the
    end-of-turn token to each, as the SFT stages do to their completions)."""
    return [{"prompt": render_with_template(CHAT, r["prompt"], "", tokenizer), "chosen": r["chosen"].strip(),
             "rejected": r["rejected"].strip(), "template": CHAT} for r in records]


def check_pair_lengths(examples: list[dict], lines: list[int], tokenizer, max_length: int, source: str) -> None:
    """Each side, as trained (template and end-of-turn included), must fit max_length: TRL would cut it silently."""
    too_long = []
    for line, example in zip(lines, examples, strict=True):
        for side in ("chosen", "rejected"):
            n = len(token_ids(tokenizer, example["prompt"] + example[side])) + 1
            if n > max_length:
                too_long.append(Problem(line, side, f"{n} tokens with the prompt once rendered, longer than "
                                                    f"max_length {max_length}"))
    if too_long:
        raise DatasetError(too_long, source)


def trained_tokens(examples: list[dict], tokenizer, config: TrainConfig | None = None) -> list[int]:
    """Tokens each rendered pair trains: prompt + chosen and prompt + rejected, each with its end-of-turn token, as
    TRL's collator batches them and counts them in num_input_tokens_seen (run.json's tokens_trained). A pair is two
    sequences, so trainers/estimate.py sizes a DPO run by these, not by prompt + completion."""
    return [sum(len(token_ids(tokenizer, e["prompt"] + e[side])) + 1 for side in ("chosen", "rejected"))
            for e in examples]


def build_dataset(config: TrainConfig, tokenizer):
    """The validated pairs as TRL's preference dataset; DatasetError lists every bad row with its line."""
    from datasets import Dataset

    check_parent(config)
    fmt, records, lines = load_valid_rows(resolve_dataset(config.dataset), config.data_format or "preference",
                                          tokenizer, config.max_length, with_lines=True)
    examples = render_rows(records, fmt, tokenizer, config)
    check_pair_lengths(examples, lines, tokenizer, config.max_length, config.dataset)
    return Dataset.from_list([{k: e[k] for k in ("prompt", "chosen", "rejected")} for e in examples])


def dpo_args(config: TrainConfig, run_dir, device: str, bf16: bool):
    from trl import DPOConfig

    return DPOConfig(
        **common_args(config, run_dir, device, bf16), loss_type=[config.loss_type or "sigmoid"],
        # rows were checked against max_length, so TRL's per-sequence truncation never cuts one
        max_length=config.max_length,
        # chosen + rejected tokens of each trained batch, pads excluded
        include_num_input_tokens_seen="non_padding",
    )


def make_trainer(config: TrainConfig):
    def make(model, peft_config, tokenizer, run_dir, device, bf16):
        from trl import DPOTrainer

        from trainers.compact_fused import stage4_trainer_class

        return stage4_trainer_class(DPOTrainer, config.compact_head)(
            model=model, ref_model=None, args=dpo_args(config, run_dir, device, bf16),
            train_dataset=build_dataset(config, tokenizer), processing_class=tokenizer, peft_config=peft_config)

    return make


def train(config: TrainConfig, run_id: str, stop_event: threading.Event | None = None,
          resume_from: str | None = None, on_step=None) -> dict:
    return train_stage4(config, run_id, make_trainer(config), METRIC_KEYS, stop_event, resume_from, on_step)
