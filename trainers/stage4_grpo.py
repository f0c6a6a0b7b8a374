"""Stage 4b, reinforcement learning with verifiable rewards (GRPO): for each prompt the policy samples a group of
completions, the evaluation suite's checkers score them (trainers/rewards.py), and LoRA adapters learn to make the
better-than-the-group completions more likely. The rows are {prompt, check} (a suite check, validated like the
suite's own); the prompt is rendered through the chat template.

    python -m trainers train assets/configs/stage4_grpo.yaml --set max_steps=20
    python -m trainers train assets/configs/stage4_grpo.yaml --set reward_funcs=correct,my_rewards:brevity

metrics.jsonl gets TRL's numbers besides the loss: reward (the weighted sum, mean over the step's completions),
reward_std, rewards/<name>/mean and /std for each reward function, kl (with beta > 0), completions/mean_length and
completions/clipped_ratio (the share cut at max_completion_length), step_time and generation_s (the seconds of the
step spent sampling; the rest is scoring, the reference pass and training). samples.jsonl, beside it, holds a few of
each logged step's completions with their rewards, for the UI to show what the policy actually says.
"""

import json
import threading

from trainers import runs
from trainers.config import TrainConfig
from trainers.data import DatasetError, Problem, load_valid_rows
from trainers.rewards import reward_functions
from trainers.sft_core import resolve_dataset
from trainers.stage4_core import check_parent, common_args, train_stage4
from trainers.templates import CHAT, render_with_template, token_ids

ACCEPTED_FORMATS = ("grpo",)
METRIC_KEYS = ("reward", "reward_std", "rewards/", "kl", "entropy", "frac_reward_zero_std", "completions/mean_length",
               "completions/clipped_ratio", "completions/mean_terminated_length", "step_time", "generation_s")
SAMPLES_FILE = "samples.jsonl"


def render_rows(records: list[dict], fmt: str, tokenizer, config: TrainConfig | None = None) -> list[dict]:
    """{prompt, check} -> the prompt through the chat template, the check as JSON text (Arrow would merge the
    checks' different shapes into one struct, filling absent keys with nulls), the prompt as written."""
    return [{"prompt": render_with_template(CHAT, r["prompt"], "", tokenizer), "question": r["prompt"],
             "check_json": json.dumps(r["check"]), "template": CHAT} for r in records]


def trained_tokens(examples: list[dict], tokenizer, config: TrainConfig) -> list[int]:
    """Tokens a GRPO row (one sampled completion) puts through the model at most: its rendered prompt and
    max_completion_length new tokens. trainers/estimate.py sizes and prices a run by these."""
    return [len(token_ids(tokenizer, e["prompt"])) + config.max_completion_length
            for e in examples]


def check_prompt_lengths(examples: list[dict], lines: list[int], tokenizer, config: TrainConfig, source: str):
    """The rendered prompt plus max_completion_length new tokens must fit max_length."""
    budget = config.max_length - config.max_completion_length
    too_long = [Problem(line, "prompt", f"{n} tokens once rendered; with max_completion_length "
                                        f"{config.max_completion_length} that passes max_length {config.max_length}")
                for line, e in zip(lines, examples, strict=True)
                if (n := len(token_ids(tokenizer, e["prompt"]))) > budget]
    if too_long:
        raise DatasetError(too_long, source)


def build_dataset(config: TrainConfig, tokenizer):
    from datasets import Dataset

    check_parent(config)
    reward_functions(config.reward_funcs, config.max_completion_length)  # a bad module:function fails before a run
    fmt, records, lines = load_valid_rows(resolve_dataset(config.dataset), config.data_format or "grpo", tokenizer,
                                          config.max_length, with_lines=True)
    examples = render_rows(records, fmt, tokenizer, config)
    check_prompt_lengths(examples, lines, tokenizer, config, config.dataset)
    return Dataset.from_list([{k: e[k] for k in ("prompt", "question", "check_json")} for e in examples])


class RewardLog:
    """The last scored batch: TRL calls each reward function with the same `completions` list, so a new list object
    starts a new batch. `wrap` keeps each function's name (TRL names its metrics after `__name__`)."""

    def __init__(self):
        self.batch = None

    def wrap(self, func):
        def reward(prompts, completions, **kwargs):
            values = func(prompts=prompts, completions=completions, **kwargs)
            if self.batch is None or self.batch["completions"] is not completions:
                self.batch = {"completions": completions, "questions": kwargs.get("question") or prompts,
                              "rewards": {}}
            self.batch["rewards"][func.__name__] = list(values)
            return values

        reward.__name__ = func.__name__
        return reward


def read_samples(run_id: str) -> list[dict]:
    """The run's samples.jsonl rows ([] before the first logged step)."""
    return runs.read_jsonl(runs.run_path(run_id) / SAMPLES_FILE)


def grpo_args(config: TrainConfig, run_dir, device: str, bf16: bool):
    from trl import GRPOConfig

    return GRPOConfig(
        **common_args(config, run_dir, device, bf16), loss_type=config.loss_type or "dapo",
        num_generations=config.num_generations, max_completion_length=config.max_completion_length,
        temperature=config.temperature, reward_weights=config.reward_weights or None,
        # GRPO counts the prompt and completion tokens of each generation batch itself
        include_num_input_tokens_seen="no",
    )


def make_trainer(config: TrainConfig):
    def make(model, peft_config, tokenizer, run_dir, device, bf16):
        from trl import GRPOTrainer

        from trainers.compact_fused import stage4_trainer_class
        from trainers.stage4_callbacks import GenerationTimer, SamplesCallback

        log = RewardLog()
        funcs = [log.wrap(f) for f in reward_functions(config.reward_funcs, config.max_completion_length)]
        trainer_class = stage4_trainer_class(GRPOTrainer, config.compact_head)
        trainer = trainer_class(model=model, reward_funcs=funcs, args=grpo_args(config, run_dir, device, bf16),
                                train_dataset=build_dataset(config, tokenizer), processing_class=tokenizer,
                                peft_config=peft_config)
        weights = config.reward_weights or [1.0] * len(funcs)
        trainer.add_callback(SamplesCallback(run_dir.name, log, weights, config.samples_per_step))
        trainer.add_callback(GenerationTimer(trainer.accelerator.unwrap_model(trainer.model)))
        return trainer

    return make


def train(config: TrainConfig, run_id: str, stop_event: threading.Event | None = None,
          resume_from: str | None = None, on_step=None) -> dict:
    return train_stage4(config, run_id, make_trainer(config), METRIC_KEYS, stop_event, resume_from, on_step)
