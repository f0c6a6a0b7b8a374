"""GRPO's callbacks (samples.jsonl per logged step, seconds spent generating), apart from trainers/stage4_grpo.py
so that importing the stage (the app does, to list stages and price jobs) does not import transformers' Trainer."""

import json
import time

from transformers import TrainerCallback

from trainers import runs
from trainers.stage4_grpo import SAMPLES_FILE, RewardLog


class SamplesCallback(TrainerCallback):
    """Appends `n` of the step's completions, with each reward and their weighted sum, to samples.jsonl per log."""

    def __init__(self, run_id: str, log: RewardLog, weights: list[float], n: int):
        self.path, self.log, self.weights, self.n = runs.run_path(run_id) / SAMPLES_FILE, log, weights, n

    def on_train_begin(self, args, state, control, **kwargs):
        if runs.is_writer() and self.path.exists():  # a resumed run redoes the steps after its checkpoint
            kept = [r for r in runs.read_jsonl(self.path) if r.get("step", 0) <= state.global_step]
            self.path.write_text("".join(json.dumps(r) + "\n" for r in kept))

    def on_log(self, args, state, control, logs=None, **kwargs):
        batch = self.log.batch
        if not batch or not self.n or not state.is_world_process_zero:
            return
        total = len(batch["completions"])
        stride = max(1, total // self.n)  # spread over the groups, not n completions of one prompt
        with open(self.path, "a") as f:
            for i in list(range(0, total, stride))[: self.n]:
                rewards = {name: values[i] for name, values in batch["rewards"].items()}
                weighted = sum(w * (r or 0.0) for w, r in zip(self.weights, rewards.values(), strict=True))
                f.write(json.dumps({"step": state.global_step, "prompt": batch["questions"][i],
                                    "completion": batch["completions"][i], "rewards": rewards,
                                    "reward": weighted}) + "\n")
        self.log.batch = None


class GenerationTimer(TrainerCallback):
    """Seconds spent in the policy's `generate` since the last log, added to the logs as `generation_s` (it runs
    before MetricsCallback, which is added later). TRL samples through the model's public `generate`."""

    def __init__(self, model):
        self.seconds, self._generate = 0.0, model.generate

        def generate(*args, **kwargs):
            started = time.perf_counter()
            try:
                return self._generate(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        model.generate = generate

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs is not None and "loss" in logs:
            logs["generation_s"] = round(self.seconds, 3)
            self.seconds = 0.0
