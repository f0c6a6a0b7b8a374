"""The training config: one dataclass, every field with help text, read from `assets/configs/*.yaml`.

A stage config names its parent with `inherit: base.yaml`; `--set key=value` overrides any field. The resolved
config is what a run saves in its `config.yaml`.
"""

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from trainers.data import FORMATS
from trainers.paths import CONFIGS

# transformers schedulers that run from `lr_scheduler_type` alone (the others need `lr_scheduler_kwargs` or an
# evaluation metric every step, which the optional held-out loss does not give); a test checks each against
# transformers' SchedulerType.
STAGES = ("stage1", "stage2", "stage3", "stage4_dpo", "stage4_grpo")
STAGE4 = ("stage4_dpo", "stage4_grpo")
# TRL's loss_type values, per trainer (DPOConfig.loss_type, GRPOConfig.loss_type); "" = the trainer's own default
DPO_LOSSES = ("sigmoid", "hinge", "ipo", "exo_pair", "nca_pair", "robust", "bco_pair", "sppo_hard", "aot",
              "aot_unpaired", "apo_zero", "apo_down", "discopop", "sigmoid_norm")
GRPO_LOSSES = ("dapo", "grpo", "dr_grpo", "bnpo", "cispo", "sapo")
SCHEDULERS = ("cosine", "linear", "constant", "constant_with_warmup", "cosine_with_restarts", "polynomial",
              "inverse_sqrt")

# A run name becomes part of the run id, a folder name and a CLI argument: no spaces, controls or bidi overrides.
RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,99}")
DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d{1,2})?")


@dataclass
class TrainConfig:
    """Every default lives here; a YAML under assets/configs holds only what its stage changes (a test checks)."""

    stage: str = field(default="stage1", metadata={
        "help": "stage1 (plain SFT), stage2 (instruction), stage3 (PEFT), stage4_dpo (preference pairs), stage4_grpo "
                "(RL with the suite's checkers as rewards)", "choices": STAGES})
    method: str = field(default="full", metadata={
        "help": "full: all weights; lora: adapters; qlora: on a 4-bit base", "choices": ("full", "lora", "qlora")})
    base_model: str = field(default="embedded", metadata={"help": "embedded, embedded-base, tiny, a Hub id or folder"})
    init_from: str = field(default="", metadata={
        "help": "stage3: a Stage 1/2 run id or checkpoint folder; stage4: either, or a LoRA run to train on"})
    dataset: str = field(default="assets/datasets/stage1_sft.jsonl", metadata={"help": "file, Hub id or saved name"})
    data_format: str = field(default="", metadata={
        "help": "row format, empty = detect from the rows; a stage refuses a format it does not train on",
        "choices": ("", *FORMATS)})
    randomize_templates: bool = field(default=True, metadata={"help": "stage2 rows: a random training template each"})
    template_seed: int = field(default=0, metadata={"help": "seed of the per-row template draw"})
    max_length: int = field(default=256, metadata={"help": "tokens per example; longer rows are rejected"})
    learning_rate: float = field(default=5e-5, metadata={"help": "peak learning rate"})
    lr_scheduler_type: str = field(default="cosine", metadata={"help": "transformers scheduler name",
                                                               "choices": SCHEDULERS})
    warmup_steps: int = field(default=0, metadata={"help": "linear warm-up steps"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay"})
    max_steps: int = field(default=60, metadata={"help": "optimizer steps (overrides epochs when > 0)"})
    num_train_epochs: float = field(default=1.0, metadata={"help": "epochs when max_steps is 0"})
    per_device_train_batch_size: int = field(default=8, metadata={"help": "examples per step per device"})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "micro-batches per optimizer step"})
    gradient_checkpointing: bool = field(default=False, metadata={
        "help": "trade compute for activation memory (transformers' activation_checkpointing)"})
    packing: bool = field(default=False, metadata={"help": "pack examples into full rows (BFD), no padding"})
    # padding-free is the measured fast path on CPU (README, "Padding-free batches"), so it is the default
    padding_free: bool = field(default=True, metadata={"help": "flatten each batch into one row, no padding"})
    compact_head: bool = field(default=True, metadata={
        "help": "project only labelled positions onto the vocabulary, in SFT, DPO and GRPO (TRL does so on CUDA; "
                "off = TRL's CPU head)"})
    # a string, not a bool: "auto" decides per device (see sft_core.use_bf16); YAML true/false are read as choices
    bf16: str = field(default="auto", metadata={
        "help": "auto (bf16 on GPUs and CPUs with native bf16), true, false", "choices": ("auto", "true", "false")})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scale numerator (scale = alpha / r)"})
    lora_dropout: float = field(default=0.05, metadata={"help": "dropout on the LoRA input"})
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        metadata={"help": "module names that get adapters (attention and MLP projections), or ['all-linear']"})
    # Stage 4 (trainers/stage4_dpo.py, trainers/stage4_grpo.py); each key feeds the TRL field of the same name
    beta: float = field(default=0.1, metadata={
        "help": "DPO: how closely the policy is held to the reference (higher = closer; IPO's tau); GRPO: the KL "
                "coefficient (0 = no reference pass and no kl metric)"})
    loss_type: str = field(default="", metadata={
        "help": "DPO: sigmoid (DPO), ipo, hinge, robust, ...; GRPO: dapo, grpo, dr_grpo, bnpo, ...; empty = the "
                "trainer's default (sigmoid / dapo)", "choices": ("", *DPO_LOSSES, *GRPO_LOSSES)})
    num_generations: int = field(default=4, metadata={
        "help": "GRPO: completions sampled per prompt (the group); per_device_train_batch_size must be a multiple"})
    max_completion_length: int = field(default=48, metadata={"help": "GRPO: new tokens per sampled completion"})
    temperature: float = field(default=1.0, metadata={"help": "GRPO: sampling temperature of the completions"})
    reward_funcs: list[str] = field(default_factory=lambda: ["correct", "format", "length"], metadata={
        "help": "GRPO rewards: correct (the suite's checker), format (a one-line answer), length (short), or "
                "module:function for your own"})
    reward_weights: list[float] = field(default_factory=list, metadata={
        "help": "GRPO: one weight per reward function (empty = all 1.0)", "item": float})
    samples_per_step: int = field(default=4, metadata={
        "help": "GRPO: sampled completions written to samples.jsonl per logged step (0 = none)"})
    seed: int = field(default=42, metadata={"help": "seed of model init, data order, dropout and the held-out rows"})
    # off by default: the presets train on every row, and a held-out loss costs forward passes on a CPU
    eval_fraction: float = field(default=0.0, metadata={
        "help": "share of rows held out for a validation loss (0 = off, below 0.5); same rows for the same seed"})
    eval_steps: int = field(default=10, metadata={
        "help": "steps between validation-loss evaluations (and one at the end), when eval_fraction > 0"})
    logging_steps: int = field(default=1, metadata={"help": "steps between metrics.jsonl lines"})
    save_steps: int = field(default=20, metadata={"help": "steps between resumable checkpoints (0 = none)"})
    device: str = field(default="auto", metadata={"help": "auto, cpu, cuda, mps"})
    torch_threads: int = field(default=0, metadata={"help": "CPU threads for torch (0 = torch's default)"})
    run_name: str = field(default="", metadata={"help": "optional label in the run id"})

    def validate(self) -> list[str]:
        """Human-readable problems with the values; empty when the config can run."""
        problems = [f"{name}: '{getattr(self, name)}' is not one of {', '.join(map(repr, options))}"
                    for name, options in CHOICES.items() if getattr(self, name) not in options]
        if self.stage in ("stage1", "stage2") and self.method != "full":
            problems.append(f"method: {self.stage} trains all weights; use stage3 for '{self.method}'")
        if self.stage == "stage3" and self.method == "full":
            problems.append("method: stage3 trains adapters; use 'lora' or 'qlora'")
        checks = [("learning_rate", self.learning_rate > 0, "must be > 0"),
                  ("max_length", self.max_length >= 8, "must be >= 8"),
                  ("max_steps", self.max_steps > 0 or self.num_train_epochs > 0, "must be > 0 (or set epochs)"),
                  ("max_steps", self.max_steps >= 0, "must be >= 0"),
                  ("per_device_train_batch_size", self.per_device_train_batch_size >= 1, "must be >= 1"),
                  ("gradient_accumulation_steps", self.gradient_accumulation_steps >= 1, "must be >= 1"),
                  ("lora_r", self.lora_r >= 1, "must be >= 1"),
                  ("lora_alpha", self.lora_alpha > 0, "must be > 0"),
                  ("lora_dropout", 0 <= self.lora_dropout < 1, "must be in [0, 1)"),
                  ("eval_fraction", 0 <= self.eval_fraction < 0.5,
                   "must be in [0, 0.5): a share of the rows to hold out, most rows still train"),
                  ("eval_steps", self.eval_steps >= 1, "must be >= 1"),
                  ("warmup_steps", self.warmup_steps >= 0, "must be >= 0"),
                  ("weight_decay", self.weight_decay >= 0, "must be >= 0"),
                  ("num_train_epochs", self.num_train_epochs >= 0, "must be >= 0"),
                  ("logging_steps", self.logging_steps >= 1, "must be >= 1"),
                  ("save_steps", self.save_steps >= 0, "must be >= 0 (0 = no checkpoints)"),
                  ("torch_threads", self.torch_threads >= 0, "must be >= 0 (0 = torch's default)"),
                  # numpy's seed (transformers' set_seed) takes 0 <= seed < 2**32
                  ("seed", 0 <= self.seed < 2**32, "must be in [0, 4294967295]"),
                  ("template_seed", 0 <= self.template_seed < 2**32, "must be in [0, 4294967295]")]
        problems += [f"{name}: {message} (got {getattr(self, name)})" for name, ok, message in checks if not ok]
        if self.init_from and self.stage in ("stage1", "stage2"):
            problems.append("init_from: only stage3 and stage4 train on top of an earlier run")
        if not DEVICE.fullmatch(self.device):
            problems.append(f"device: '{self.device}' is not one of auto, cpu, cuda, cuda:N, mps")
        if self.run_name and not RUN_NAME.fullmatch(self.run_name):
            problems.append(f"run_name: {self.run_name!r} is not a run name (up to 40 letters, digits, '-', '_' or "
                            "'.', starting with a letter or digit)")
        bad = [m for m in self.target_modules if not MODULE_NAME.fullmatch(m)]
        if not self.target_modules or bad:
            problems.append(f"target_modules: {bad[0]!r} is not a module name" if bad else
                            "target_modules: name at least one module (or all-linear)")
        return problems + self._stage4_problems()

    def _stage4_problems(self) -> list[str]:
        if self.stage not in STAGE4:
            return []
        problems = [] if self.method in ("lora", "qlora") else [
            f"method: {self.stage} trains adapters here; use 'lora' or 'qlora'"]
        losses = DPO_LOSSES if self.stage == "stage4_dpo" else GRPO_LOSSES
        if self.loss_type and self.loss_type not in losses:
            problems.append(f"loss_type: '{self.loss_type}' is not a {self.stage} loss ({', '.join(losses)})")
        if self.beta < 0:
            problems.append(f"beta: must be >= 0 (got {self.beta})")
        if self.stage == "stage4_grpo":
            problems += self._grpo_problems()
        return problems

    def _grpo_problems(self) -> list[str]:
        problems = []
        if self.num_generations < 2:
            problems.append(f"num_generations: GRPO compares at least 2 completions per prompt "
                            f"(got {self.num_generations})")
        elif self.per_device_train_batch_size % self.num_generations:
            problems.append(f"per_device_train_batch_size: {self.per_device_train_batch_size} completions per step "
                            f"must be a multiple of num_generations {self.num_generations}")
        if self.max_completion_length < 1:
            problems.append(f"max_completion_length: must be >= 1 (got {self.max_completion_length})")
        if self.temperature <= 0:
            problems.append(f"temperature: GRPO samples, so it must be > 0 (got {self.temperature})")
        if not self.reward_funcs:
            problems.append("reward_funcs: name at least one reward")
        if self.reward_weights and len(self.reward_weights) != len(self.reward_funcs):
            problems.append(f"reward_weights: {len(self.reward_weights)} weight(s) for {len(self.reward_funcs)} "
                            "reward function(s)")
        return problems


FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}
CHOICES = {name: f.metadata["choices"] for name, f in FIELDS.items() if "choices" in f.metadata}


def whole_number(name: str, value) -> int:
    """An int field from an int, an integral float or a numeric string; never a silent truncation of 2.5."""
    if isinstance(value, bool):
        raise ValueError(f"{name}: expected a whole number (got {value})")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError(f"{name}: expected a whole number (got '{value}')") from None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int):
        return value
    raise ValueError(f"{name}: expected a whole number (got {value!r})")


def real_number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{name}: expected a number (got {value!r})")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (ValueError, OverflowError):
        raise ValueError(f"{name}: expected a number (got '{value}')") from None
    if not math.isfinite(number):
        raise ValueError(f"{name}: expected a finite number (got {value})")
    return number


def _coerce(name: str, value):
    """A --set string, YAML value or form value -> the field's type, or ValueError with one line naming the field.
    A choice is matched case-insensitively, and YAML's true/false (read as booleans) become the choices
    "true"/"false" of a tri-state field such as bf16."""
    if name in CHOICES:
        text = str(value).lower() if isinstance(value, bool) else str(value).strip()
        return next((c for c in CHOICES[name] if c.lower() == text.lower()), text)  # validate() names a bad one
    current = FIELDS[name].default if FIELDS[name].default is not dataclasses.MISSING else []
    if isinstance(current, bool):
        if isinstance(value, bool):
            return value
        if str(value).strip().lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"{name}: expected true or false (got '{value}')")
        return str(value).strip().lower() in ("true", "1", "yes")
    if isinstance(current, int):
        return whole_number(name, value)
    if isinstance(current, float):
        return real_number(name, value)
    if isinstance(current, list):
        items = [v.strip() for v in value.strip("[]").split(",")] if isinstance(value, str) else value
        if FIELDS[name].metadata.get("item") is float:  # e.g. reward_weights
            if not isinstance(items, (list, tuple)):
                raise ValueError(f"{name}: expected a list of numbers (got {value!r})")
            return [real_number(name, v) for v in items if not (isinstance(v, str) and not v.strip())]
        if not isinstance(items, (list, tuple)) or not all(isinstance(v, str) for v in items):
            raise ValueError(f"{name}: expected a list of names (got {value!r})")
        return [v.strip() for v in items if v.strip()]
    if value is None:  # YAML's empty value
        return ""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ValueError(f"{name}: expected text (got {value!r})")
    return str(value)


def read_yaml_chain(path: Path) -> dict:
    """A config file with its `inherit:` parents merged underneath it."""
    path = Path(path)
    if not path.is_file() and (CONFIGS / path.name).is_file():
        path = CONFIGS / path.name
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such config file")
    data = yaml.safe_load(path.read_text()) or {}
    parent = data.pop("inherit", None)
    return {**(read_yaml_chain(path.parent / parent) if parent else {}), **data}


def build_config(values: dict, overrides: dict | None = None) -> TrainConfig:
    merged = {**values, **(overrides or {})}
    unknown = sorted(set(merged) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown config key(s): {', '.join(unknown)}")
    values, problems = {}, []
    for key, value in merged.items():
        try:
            values[key] = _coerce(key, value)
        except ValueError as err:
            problems.append(str(err))
    if problems:
        raise ValueError("; ".join(problems))
    return TrainConfig(**values)


def load_config(path, overrides: dict | None = None) -> TrainConfig:
    return build_config(read_yaml_chain(Path(path)), overrides)


def parse_overrides(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise ValueError(f"--set expects KEY=VALUE, got '{pair}'")
        key, value = pair.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def to_dict(config: TrainConfig) -> dict:
    return dataclasses.asdict(config)


def help_text(name: str) -> str:
    return FIELDS[name].metadata.get("help", "")
