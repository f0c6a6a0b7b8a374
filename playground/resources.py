"""Process-wide resources shared by every session: the resident ModelHub per base model, cached tokenizers, the
device, and a background warm-up so the page is served before any weights load.

Per-session values (the selected run, the rows being edited, the chat history) live in `gr.State` or in the
components themselves, never here. The ModelHub and `trainers.job_queue.QUEUE` are process-wide by design: one set of
weights in memory and one job at a time per process, whoever is looking.
"""

import os
import threading
from collections import OrderedDict

_lock = threading.Lock()
_hubs: OrderedDict = OrderedDict()
_tokenizers: dict = {}
_status = {"device": None, "warm": "not started", "error": ""}


def default_base() -> str:
    """The app's base model: env PLAYGROUND_BASE_MODEL (tests set `tiny`), else the embedded SmolLM2."""
    return os.environ.get("PLAYGROUND_BASE_MODEL", "").strip() or "embedded"


def get_hub(base_model: str | None = None):
    """The ModelHub for a base (created on first use; weights load on first generate). Keeps the most recently
    used few bases resident (caps: bases), never dropping the app's default base; a hub dropped here stays alive for
    any session still generating with it. A name that is not a model this server can load raises ModelNotFound
    (NameRefused for a path in public mode) before anything resident is touched."""
    from trainers import caps
    from trainers.adapters import ModelHub

    name = (base_model or default_base()).strip()
    with _lock:
        if name in _hubs:
            _hubs.move_to_end(name)
            return _hubs[name]
    check_base_name(name)  # outside the lock: a Hub lookup can take a while
    with _lock:
        _hubs.setdefault(name, ModelHub(name))
        _hubs.move_to_end(name)
        most = max(int(caps.limit("bases") or len(_hubs)), 1)
        for other in [n for n in _hubs if n not in (name, default_base())][:max(len(_hubs) - most, 0)]:
            del _hubs[other]  # least recently used first
        return _hubs[name]


def check_base_name(name: str) -> None:
    """Raise unless `name` is a base this server can load: known to the registry, or a folder (local mode) or Hub
    model whose config can be read, and (under the memory cap) whose weights fit."""
    from trainers.models import REGISTRY, ModelNotFound, resolve_model
    from trainers.names import check_model_name, hub_model_miss

    check_model_name(name)
    if name in REGISTRY:
        return
    try:
        from trainers.estimate import _meta_model

        model, _ = _meta_model(resolve_model(name))
    except ModelNotFound:
        raise
    except Exception:  # transformers / the Hub client raise many types; the sentence is the same for all
        raise ModelNotFound(hub_model_miss(name)) from None
    from trainers import caps

    weights_mb = sum(p.numel() for p in model.parameters()) * 2 / 2**20  # bf16 or better on load
    refused = caps.refusal("train_mb", weights_mb, f"~{weights_mb:,.0f} MB of weights for {name}")
    if refused:
        raise caps.CapExceeded(refused)


def tokenizer_for(base_model: str | None = None):
    """A cached tokenizer (template views, length checks) without loading any model weights."""
    from trainers.models import load_tokenizer

    name = (base_model or default_base()).strip()
    with _lock:
        if name not in _tokenizers:
            _tokenizers[name] = load_tokenizer(name)
        return _tokenizers[name]


def device_name() -> str:
    return _status["device"] or "detecting..."


def warm_status() -> str:
    return _status["warm"] + (f" ({_status['error']})" if _status["error"] else "")


def _warm_up(base_model: str) -> None:
    try:
        from trainers.models import pick_device
        from trainers.quiet import quiet_libraries

        quiet_libraries()
        _status["device"] = pick_device()
        from trainers import jobs

        jobs.mark_dead_jobs()  # jobs and runs whose process is gone become interrupted, and resumable
        _status["warm"] = f"loading {base_model}"
        get_hub(base_model).ensure_base()
        _status["warm"] = f"{base_model} loaded"
    except Exception as err:  # shown in the header; the app keeps working and retries on first use
        _status["warm"], _status["error"] = f"{base_model} not loaded", f"{err.__class__.__name__}: {err}"[:300]


def start_warm_up(base_model: str | None = None) -> threading.Thread:
    """Import torch, detect the device and load the base model in the background (the first embedded use converts a
    GGUF once, about 30 s); the page does not wait for it."""
    thread = threading.Thread(target=_warm_up, args=(base_model or default_base(),), name="warm-up", daemon=True)
    thread.start()
    return thread
