"""Server-side limits on what one request may ask for, so one visitor cannot take a hosted app down or hold it.

    from trainers import caps
    caps.limit("steps")                       # 200 in public mode, None (no limit) in local mode
    caps.training_problems(config)            # ["max_steps: 1,000,000,000 is over the limit of 200 steps", ...]
    caps.refusal("new_tokens", 4096)          # one sentence, or "" when within the limit

Every cap has a default for public mode (sized for a free 2-vCPU, 16 GB CPU Space) and one for local mode (mostly
off: one user on their own machine), and an environment variable that overrides both: PLAYGROUND_MAX_<NAME>, a
number or `off`. A refusal is one sentence that names the limit and its value.
"""

import os
from dataclasses import dataclass

from trainers.mode import public_mode


class CapExceeded(ValueError):
    """A request over one of the caps; the message is the sentence to show."""


@dataclass(frozen=True)
class Cap:
    public: float | None
    local: float | None
    unit: str
    what: str  # how the refusal names the requested quantity


CAPS = {
    "tokens_per_step": Cap(4096, None, "tokens", "tokens per optimizer step"),
    "steps": Cap(200, None, "steps", "max_steps"),
    "length": Cap(512, None, "tokens", "max_length"),
    "rows": Cap(5000, None, "rows", "rows"),
    "upload_mb": Cap(10, None, "MB", "upload size"),
    "new_tokens": Cap(256, None, "tokens", "max_new_tokens"),
    "prompt_tokens": Cap(1024, None, "tokens", "the chat prompt (history, system prompt and message)"),
    # resident base models; the app's default base is never the one dropped to make room
    "bases": Cap(2, 2, "base models", "resident base models"),
    # "auto": 80% of the memory available when the request comes in
    "train_mb": Cap("auto", None, "MB", "estimated peak memory"),
    "eval_queries": Cap(36, None, "queries", "evaluation queries"),
    # preference pairs from a model's own answers: the starter's 112 prompts x 4 samples, about an evaluation's work
    "sampled_answers": Cap(448, None, "answers", "sampled answers (prompts x samples per prompt)"),
    "jobs_per_workspace": Cap(2, None, "jobs", "queued or running jobs of this workspace"),
}
AUTO_MEMORY_SHARE = 0.8


def env_name(name: str) -> str:
    return f"PLAYGROUND_MAX_{name.upper()}"


def limit(name: str) -> float | None:
    """The cap in force: the environment variable if set, else the mode's default; None means no limit."""
    cap = CAPS[name]
    raw = os.environ.get(env_name(name), "").strip().lower()
    if raw in ("off", "none"):
        return None
    if raw:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{env_name(name)}: expected a number or 'off' (got '{raw}')") from None
    else:
        value = cap.public if public_mode() else cap.local
    if value == "auto":
        return available_memory_mb() * AUTO_MEMORY_SHARE
    return value


def available_memory_mb() -> float:
    import psutil

    return psutil.virtual_memory().available / 2**20


def _number(value) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def refusal(name: str, value, detail: str = "") -> str:
    """'' when `value` is within the cap, else e.g. 'max_steps: 1,000,000,000 is over the limit of 200 steps'."""
    cap_value = limit(name)
    if cap_value is None or value <= cap_value:
        return ""
    cap = CAPS[name]
    auto = cap.public == "auto" and not os.environ.get(env_name(name), "").strip()
    share = f" ({AUTO_MEMORY_SHARE:.0%} of the memory available now)" if auto and public_mode() else ""
    return f"{cap.what}: {detail or _number(value)} is over the limit of {_number(cap_value)} {cap.unit}{share}"


def training_problems(config) -> list[str]:
    """The caps a training config can be checked against without reading its data or model."""
    tokens = config.per_device_train_batch_size * config.gradient_accumulation_steps * config.max_length
    detail = (f"{config.per_device_train_batch_size:,} x {config.gradient_accumulation_steps:,} x "
              f"{config.max_length:,} (batch x accumulation x max_length) = {tokens:,}")
    found = [refusal("steps", config.max_steps), refusal("length", config.max_length),
             refusal("tokens_per_step", tokens, detail)]
    if config.max_steps <= 0 and limit("steps") is not None:  # epochs have no bound the server can see up front
        found.append(f"max_steps: must be set (1 to {_number(limit('steps'))}) on this server; epochs are not "
                     "accepted")
    return [p for p in found if p]


def memory_problem(config) -> str:
    """The pre-run estimate (trainers/estimate.py) against the memory cap, for rows padded to max_length: the
    bound, since a padding-free batch of long rows reaches it."""
    if limit("train_mb") is None:
        return ""
    from trainers.estimate import estimate_training

    est = estimate_training(config, seq_len=config.max_length)
    detail = (f"~{est['total_mb']:,.0f} MB for batches of {config.per_device_train_batch_size:,} x "
              f"{config.max_length:,} tokens")
    return refusal("train_mb", est["total_mb"], detail)
