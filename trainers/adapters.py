"""One resident base model with stage adapters hot-swapped onto it; full checkpoints behind a small LRU cache.

    hub = ModelHub("embedded")
    model, tokenizer, ms = hub.activate("20261124-101500-stage3-lora")   # loads once, then set_adapter
    model, tokenizer, ms = hub.activate("base")      # same weights; generate under hub.base_context() (adapters off)

Adapters are loaded by name with PEFT's `load_adapter` and switched with PEFT's public `set_adapter` (10-13 ms
measured for SmolLM2 with three adapters, inside the 20 ms target), so the base weights are read from disk once.
Full Stage 1/2 checkpoints are whole models; they load as separate models and the least recently used one is
dropped when the cache passes its memory bound. An adapter trained on top of such a checkpoint (`init_from` a Stage
1/2 run: reproduce's DPO on its Stage 2 run) cannot run on the resident base, so it loads the same way: that
checkpoint with the adapter on it, a model of its own in the same cache. Generation holds `hub.lock`, because the
active adapter is a property of the shared model.
"""

import json
import os
import threading
import time
from collections import OrderedDict, deque
from pathlib import Path

from trainers import runs
from trainers.models import load_model, load_tokenizer, resolve_model
from trainers.sft_core import checkpoint_under

BASE = "base"


class FairRLock:
    """A reentrant lock handed over in arrival order. A streamed chat takes the shared model one slice at a time and
    queues again after each; with a plain RLock the same thread usually wins the lock straight back, so a bystander
    waiting for one short answer would wait for a whole long one."""

    def __init__(self):
        self._cond = threading.Condition(threading.Lock())
        self._owner, self._depth, self._line = None, 0, deque()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return True
            if self._owner is None and not self._line:
                self._owner, self._depth = me, 1
                return True
            if not blocking:
                return False
            ticket = object()
            self._line.append(ticket)
            turn = self._cond.wait_for(lambda: self._owner is None and self._line[0] is ticket,
                                       None if timeout is None or timeout < 0 else timeout)
            self._line.remove(ticket)
            if turn:
                self._owner, self._depth = me, 1
            self._cond.notify_all()
            return turn

    def release(self) -> None:
        with self._cond:
            if self._owner != threading.get_ident():
                raise RuntimeError("cannot release a lock held by another thread")
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._cond.notify_all()

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()
        return False


class AdapterMismatch(ValueError):
    """An adapter trained on a different base model than the resident one."""


def describe_target(target: str) -> dict:
    """What a chat/compare target is: the base, a run's adapter, a run's full checkpoint, or an adapter folder."""
    if target == BASE:
        return {"kind": "base"}
    if Path(target).is_dir():
        kind = "adapter" if (Path(target) / "adapter_config.json").is_file() else "full"
        return {"kind": kind, "dir": str(Path(target).resolve()), "base_model": None, "init_from": ""}
    record = runs.read_run(target)
    if not record.get("artifact_dir") or not Path(record["artifact_dir"]).is_dir():
        raise ValueError(f"run {target} has no saved model (status {record['status']})")
    kind = "full" if record["method"] == "full" else "adapter"
    init_from = checkpoint_under(runs.read_config(target))  # "" when the adapter sits on the base model
    return {"kind": kind, "dir": record["artifact_dir"], "base_model": record["base_model"], "init_from": init_from}


def weights_under(target: str) -> str:
    """The folder of the full checkpoint a run's adapter was trained on top of, as training loaded it; ValueError
    when that checkpoint is gone."""
    from trainers.config import build_config
    from trainers.sft_core import base_for

    try:
        return base_for(build_config(runs.read_config(target)))
    except (OSError, ValueError) as err:
        raise ValueError(f"{target} was trained on top of a checkpoint that cannot be loaded: "
                         f"{str(err).splitlines()[0]}") from None


def compatibility_problem(hub, target: str) -> str:
    """Why `target` cannot run on the hub's base (an adapter trained on another base), checked before any load;
    "" when it can. The tabs call it to refuse a target with a message instead of failing half-way."""
    if target == BASE:
        return ""
    try:
        info = describe_target(target)
        if info["kind"] == "adapter":
            hub.check_base(info, target)
    except (AdapterMismatch, ValueError) as err:
        return str(err)
    except OSError:
        return f"'{target}' is not a run with a saved model (see the Runs tab)"
    return ""


def _weights_mtime(folder: str) -> float:
    path = Path(folder) / "adapter_model.safetensors"
    return path.stat().st_mtime if path.exists() else 0.0


def _param_mb(model) -> float:
    return sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20


class ModelHub:
    def __init__(self, base_model: str = "embedded", cache_mb: float | None = None, device: str = "auto",
                 dtype: str = "auto"):
        """`dtype` is the weight dtype of every model the hub loads ("auto": bf16 where the CPU has native bf16, else
        fp32; see `trainers.models.pick_dtype`). Tests pass "fp32" so batch shape cannot change a greedy answer."""
        self.base_name, self.device, self.dtype = base_model, device, dtype
        self.cache_mb = cache_mb or float(os.environ.get("PLAYGROUND_MODEL_CACHE_MB", "3000"))
        self.lock = FairRLock()
        self.model = self.tokenizer = None
        self.loaded_adapters: dict[str, tuple] = {}  # name -> (folder, mtime of the weights it was loaded from)
        self.active = BASE
        self.full_models: OrderedDict[str, tuple] = OrderedDict()
        self.last_switch_ms = 0.0

    def ensure_base(self):
        with self.lock:
            if self.model is None:
                self.tokenizer = load_tokenizer(self.base_name)
                self.model = load_model(self.base_name, dtype=self.dtype, device=self.device).eval()
            return self.model, self.tokenizer

    def check_base(self, info: dict, target: str) -> None:
        if info.get("init_from"):  # it runs on its own copy of that checkpoint (_full_model), whatever our base is
            weights_under(target)
            return
        if info.get("base_model") not in (None, self.base_name):
            raise AdapterMismatch(f"{target} was trained on base model '{info['base_model']}', but the loaded base is "
                                  f"'{self.base_name}'; switch the base model to use it")
        config = json.loads((Path(info["dir"]) / "adapter_config.json").read_text())
        trained_on = config.get("base_model_name_or_path")
        if info.get("base_model") is None and trained_on not in (self.base_name, resolve_model(self.base_name)):
            raise AdapterMismatch(f"adapter {target} was trained on '{trained_on}', not on '{self.base_name}'")

    def load_stage_adapter(self, target: str, info: dict) -> None:
        from peft import PeftModel

        self.check_base(info, target)
        try:
            if isinstance(self.model, PeftModel):
                self.model.load_adapter(info["dir"], adapter_name=target)
            else:
                self.model = PeftModel.from_pretrained(self.model, info["dir"], adapter_name=target).eval()
        except (RuntimeError, ValueError) as err:  # shape mismatches surface here
            self._discard_failed_adapter(target)
            lines = [line.strip() for line in str(err).splitlines() if line.strip()]
            detail = next((line for line in lines if "size mismatch" in line), lines[0] if lines else "")
            raise AdapterMismatch(f"adapter {target} does not fit the base '{self.base_name}': "
                                  f"{detail[:200]}") from None
        self.loaded_adapters[target] = (info["dir"], _weights_mtime(info["dir"]))

    def _discard_failed_adapter(self, target: str) -> None:
        """PEFT injects an adapter's layers before it loads the weights, so a failed load leaves them in the model."""
        from peft import PeftModel

        if isinstance(self.model, PeftModel):
            if target in self.model.peft_config:
                self.model.delete_adapter(target)
        else:
            self.model = None  # the bare base was modified in place; `ensure_base` reloads it clean

    def _full_model(self, target: str, info: dict):
        """A full checkpoint, or an adapter on the checkpoint it was trained on top of, from the LRU cache."""
        if target in self.full_models:
            self.full_models.move_to_end(target)
            return self.full_models[target]
        if info["kind"] == "adapter":
            from peft import PeftModel

            weights = weights_under(target)
            model = load_model(weights, dtype=self.dtype, device=self.device)
            entry = (PeftModel.from_pretrained(model, info["dir"]).eval(), load_tokenizer(weights))
        else:
            entry = (load_model(info["dir"], dtype=self.dtype, device=self.device).eval(), load_tokenizer(info["dir"]))
        self.full_models[target] = entry
        while len(self.full_models) > 1 and sum(_param_mb(m) for m, _ in self.full_models.values()) > self.cache_mb:
            self.full_models.popitem(last=False)
        return entry

    def describe(self, target: str) -> dict:
        """Like `describe_target`, and also knows adapters loaded under names that are not runs."""
        try:
            return describe_target(target)
        except (ValueError, OSError):
            if target in self.loaded_adapters:
                return {"kind": "adapter"}  # loaded under a name that is not a run (an alias)
            raise

    def activate(self, target: str):
        """(model, tokenizer, switch_ms) with `target` active. Call under `hub.lock` and generate before releasing."""
        with self.lock:
            started = time.perf_counter()
            if self._switch_loaded(target):
                self.last_switch_ms = (time.perf_counter() - started) * 1000
                return self.model, self.tokenizer, self.last_switch_ms
            info = self.describe(target)
            if info["kind"] == "full" or info.get("init_from"):
                model, tokenizer = self._full_model(target, info)
            else:
                model, tokenizer = self.ensure_base()
                if info["kind"] == "adapter":
                    self.load_stage_adapter(target, info)
                    self.model.set_adapter(target, inference_mode=True)
                model = self.model
            self.active = target
            self.last_switch_ms = (time.perf_counter() - started) * 1000
            return model, tokenizer, self.last_switch_ms

    def _switch_loaded(self, target: str) -> bool:
        """The hot path: an adapter already on the base is one `set_adapter` away, unless a resumed run has since
        saved new weights under its name (then it is dropped and loaded again by the slow path)."""
        if target not in self.loaded_adapters or self.model is None:
            return False
        folder, mtime = self.loaded_adapters[target]
        if folder and _weights_mtime(folder) != mtime:
            self.model.delete_adapter(target)
            del self.loaded_adapters[target]
            return False
        self.model.set_adapter(target, inference_mode=True)  # the hub never trains: adapter weights stay frozen
        self.active = target
        return True

    def adapters_on_base(self, targets: list[str]) -> bool:
        """True when every target can run in one batch on the resident base (the base or its adapters)."""
        return all(info["kind"] == "base" or (info["kind"] == "adapter" and not info.get("init_from"))
                   for info in map(self.describe, targets))

    def base_context(self):
        """A context with adapters off, for generating from the bare base on an adapter-carrying model."""
        from contextlib import nullcontext

        from peft import PeftModel

        return self.model.disable_adapter() if isinstance(self.model, PeftModel) else nullcontext()
