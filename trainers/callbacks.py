"""What the trainer reports while it runs: metrics.jsonl lines, the stop flag, token throughput and peak memory."""

import threading
import time

import psutil
from transformers import TrainerCallback

from trainers.runs import append_metrics


class PeakMemory:
    """Peak memory during a block: CUDA's allocator peak on a GPU, else the process RSS sampled every 20 ms."""

    def __init__(self, device: str):
        self.device, self.peak_mb, self._stop = device, 0.0, threading.Event()

    def __enter__(self):
        if self.device == "cuda":
            import torch

            torch.cuda.reset_peak_memory_stats()
        else:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self):
        process = psutil.Process()
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, process.memory_info().rss / 2**20)
            self._stop.wait(0.02)

    def __exit__(self, *exc):
        if self.device == "cuda":
            import torch

            self.peak_mb = torch.cuda.max_memory_allocated() / 2**20
        else:
            self._stop.set()
            self._thread.join()
        return False


class MetricsCallback(TrainerCallback):
    """Appends one JSON line per logging step (and one per held-out evaluation: step, eval_loss) and stops training at
    the next step once `stop_event` is set.

    Tokens come from the Trainer's `num_input_tokens_seen`: counted on the batch actually trained and summed over all
    ranks. Counting inside the collator would see the batch the dataloader prefetches (a step late, zero at the end of
    each epoch) and only rank 0's share.
    """

    FINAL_STEPS = 5  # one logged step of a small batch is noisy; the run's loss is where the last few settled

    def final_loss(self) -> float | None:
        """The mean loss of the last FINAL_STEPS logged steps (fewer when the run logged fewer); None before any."""
        last = self.losses[-self.FINAL_STEPS:]
        return sum(last) / len(last) if last else None

    def __init__(self, run_id: str | None, stop_event: threading.Event | None = None, on_step=None,
                 extra_keys: tuple[str, ...] = ()):
        """`extra_keys`: what a stage's trainer logs beyond the loss that metrics.jsonl keeps too (DPO's
        `rewards/margins`, GRPO's `reward`, ...); a key ending in "/" keeps every logged key under it."""
        self.run_id, self.stop_event, self.on_step, self.extra_keys = run_id, stop_event, on_step, extra_keys
        self.start = self.last_time = time.perf_counter()
        self.start_tokens = self.last_tokens = 0
        self.losses = []
        self.eval_s = self._eval_since_log = 0.0  # seconds in the eval loop: not training, so not in tokens/s

    def on_train_begin(self, args, state, control, **kwargs):
        self.start = self.last_time = time.perf_counter()
        self.start_tokens = self.last_tokens = state.num_input_tokens_seen  # non-zero when resuming

    def session_tokens(self, state) -> int:
        """Tokens trained by this `train()` call, all ranks together."""
        return state.num_input_tokens_seen - self.start_tokens

    def _keeps(self, key: str) -> bool:
        return any(key == k or (k.endswith("/") and key.startswith(k)) for k in self.extra_keys)

    def on_step_end(self, args, state, control, **kwargs):
        if self.stop_event is not None and self.stop_event.is_set():
            control.should_training_stop = True
        if self.on_step:
            self.on_step(state.global_step, state.max_steps)
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "eval_loss" in logs:
            self._log_eval(state, logs)
        if not logs or "loss" not in logs or not state.is_world_process_zero:
            return
        now = time.perf_counter()
        tokens = state.num_input_tokens_seen - self.last_tokens
        seconds = now - self.last_time - self._eval_since_log
        row = {"step": state.global_step, "loss": logs["loss"], "learning_rate": logs.get("learning_rate"),
               "grad_norm": logs.get("grad_norm"), "tokens_per_second": tokens / max(seconds, 1e-9),
               "elapsed_s": round(now - self.start, 3), "epoch": logs.get("epoch")}
        row.update({key: value for key, value in logs.items() if key not in row and self._keeps(key)})
        self.last_time, self.last_tokens, self._eval_since_log = now, state.num_input_tokens_seen, 0.0
        self.losses.append(logs["loss"])
        if self.run_id:
            append_metrics(self.run_id, row)

    def _log_eval(self, state, logs):
        runtime = float(logs.get("eval_runtime") or 0.0)
        self.eval_s += runtime
        self._eval_since_log += runtime
        if self.run_id and state.is_world_process_zero:
            append_metrics(self.run_id, {"step": state.global_step, "eval_loss": logs["eval_loss"],
                                         "eval_mean_token_accuracy": logs.get("eval_mean_token_accuracy"),
                                         "elapsed_s": round(time.perf_counter() - self.start, 3)})
