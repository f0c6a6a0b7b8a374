"""Generation: streamed chat, batched prompts, and several stages answering one prompt in a single batch.

    for text in stream_chat(hub, "base", [{"role": "user", "content": "Hi"}]): print(text)
    answers = generate_batch(model, tokenizer, ["2+2=", "Capital of France?"], max_new_tokens=16)
    by_stage = compare(hub, "Convert 2 km to m.", ["base", run_a, run_b])

Batches are left-padded so every row's next token sits at the last position; greedy unless temperature > 0.
One forward pass serves the base and several adapters: their LoRA updates are stacked per row (stacked_lora.py),
or PEFT's mixed-batch `adapter_names=` for adapters that cannot be stacked.
"""

import threading
from contextlib import nullcontext

from trainers.adapters import BASE
from trainers.stacked_lora import stacked_adapters
from trainers.templates import render_chat

PEFT_BASE_ROW = "__base__"  # PEFT's name for "no adapter" in a mixed batch


def message_text(content) -> str:
    """Gradio 6 messages carry content as a string or a list of blocks ({"type": "text", "text": ...})."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return content.get("text") or ""
    if isinstance(content, list):
        return "".join(message_text(block) for block in content)
    return "" if content is None else str(content)


def chat_prompt(tokenizer, messages: list[dict], system: str = "") -> str:
    turns = [{"role": m["role"], "content": message_text(m["content"])} for m in messages
             if m.get("role") in ("user", "assistant")]
    if system:
        turns = [{"role": "system", "content": system}] + turns
    return tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)


def sampling_kwargs(tokenizer, max_new_tokens: int, temperature: float, top_p: float) -> dict:
    kwargs = {"max_new_tokens": int(max_new_tokens), "pad_token_id": tokenizer.pad_token_id,
              "eos_token_id": tokenizer.eos_token_id}
    if temperature and temperature > 0:
        kwargs.update(do_sample=True, temperature=float(temperature), top_p=float(top_p))
    else:
        kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    return kwargs


def generate_batch(model, tokenizer, prompts: list[str], max_new_tokens: int = 64, temperature: float = 0.0,
                   top_p: float = 1.0, adapter_names: list[str] | None = None, seed: int = 0) -> list[str]:
    import torch

    tokenizer.padding_side = "left"
    batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
    extra = {"adapter_names": adapter_names} if adapter_names else {}
    torch.manual_seed(seed)
    with torch.inference_mode():
        out = model.generate(**batch, **sampling_kwargs(tokenizer, max_new_tokens, temperature, top_p), **extra)
    return tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)


def stream_chat(hub, target: str, messages: list[dict], system: str = "", temperature: float = 0.0,
                top_p: float = 0.95, max_new_tokens: int = 128):
    """Yield the growing answer. The hub lock is held until generation ends, so no one swaps adapters under us."""
    import torch
    from transformers import TextIteratorStreamer

    with hub.lock:
        model, tokenizer, _ = hub.activate(target)
        prompt = chat_prompt(tokenizer, messages, system)
        batch = tokenizer([prompt], return_tensors="pt", add_special_tokens=False).to(model.device)
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=120)
        context = hub.base_context() if target == BASE else nullcontext()
        errors = []

        def work():
            try:
                with context, torch.inference_mode():
                    model.generate(**batch, streamer=streamer,
                                   **sampling_kwargs(tokenizer, max_new_tokens, temperature, top_p))
            except Exception as err:  # surfaced to the caller after the stream closes
                errors.append(err)
                streamer.end()

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        text = ""
        for piece in streamer:
            if not piece:  # the streamer holds back a partial word and reports it as "": nothing new to show
                continue
            text += piece
            yield text
        thread.join()
        if errors:
            raise errors[0]


def compare(hub, prompt: str, targets: list[str], max_new_tokens: int = 64, system: str = "",
            batched: bool = True) -> dict[str, str]:
    """One prompt, one answer per target. The base and its adapters share one batched generate (per-row adapters);
    full checkpoints, which are separate models, answer one by one."""
    answers = {}
    with hub.lock:
        hub.ensure_base()
        on_base = [t for t in targets if hub.adapters_on_base([t])]
        for target in on_base:
            if target != BASE:
                hub.activate(target)  # loads the adapter once
        text = chat_prompt(hub.tokenizer, [{"role": "user", "content": prompt}], system)
        if batched and len(on_base) > 1 and any(t != BASE for t in on_base):
            with stacked_adapters(hub.model, [None if t == BASE else t for t in on_base]) as stacked:
                names = None if stacked else [PEFT_BASE_ROW if t == BASE else t for t in on_base]
                outs = generate_batch(hub.model, hub.tokenizer, [text] * len(on_base), max_new_tokens,
                                      adapter_names=names)
            answers.update(zip(on_base, outs, strict=True))
        else:
            for target in on_base:
                model, tokenizer, _ = hub.activate(target)
                with hub.base_context() if target == BASE else nullcontext():
                    answers[target] = generate_batch(model, tokenizer, [text], max_new_tokens)[0]
        for target in targets:
            if target not in answers:
                model, tokenizer, _ = hub.activate(target)
                answers[target] = generate_batch(model, tokenizer, [chat_prompt(tokenizer, [
                    {"role": "user", "content": prompt}], system)], max_new_tokens)[0]
    return {t: answers[t] for t in targets}


__all__ = ["message_text", "chat_prompt", "generate_batch", "stream_chat", "compare", "render_chat"]
