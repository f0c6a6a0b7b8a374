"""Generation: the one batched answering path (`answer_grid`) every tab and the evaluation runner use, and streamed
chat, which activates and renders exactly as a one-row `answer_grid` call does.

    answers = answer_grid(hub, ["base", run_a, run_b], [[{"role": "user", "content": "Convert 2 km to m."}],
                                                        "### Instruction:\\nConvert 2 km to m.\\n\\n### Response:\\n"])
    answers[run_a]          # [answer to the chat message, answer to the alpaca-rendered text]
    for text in stream_chat(hub, "base", [{"role": "user", "content": "Hi"}]): print(text)

A prompt is a string already rendered (sent as is) or a list of chat messages (rendered with each model's own
tokenizer chat template, after `system`). The batching policy, the same for every caller: rows are (model, prompt)
pairs grouped by the model object they run on (the resident base with its adapters; each full checkpoint alone),
sorted by prompt length within a group (less padding). Greedy answers decode a group with continuous batching
(trainers/continuous.py: at most `batch_size` rows at a time, a finished row's place taken by the next prompt), the
base's and adapters' rows side by side with each row's LoRA update added in one forward (stacked_lora.py). When that
cannot run (sampling, a model whose `generate` processes logits or keeps a sliding-window cache, adapters that
cannot be stacked) the group is cut into chunks of at most `batch_size` rows, one `generate` each: a chunk of one
model activates it and generates plainly; a chunk mixing the base and adapters uses stacked rows or PEFT's per-row
`adapter_names`, or, where PEFT cannot mix them either (DoRA, extra trained modules), generates each model's rows of
the chunk as their own batch.
Left padding keeps every row's next token at the last position; greedy unless temperature > 0.
"""

import threading
from contextlib import contextmanager, nullcontext

from trainers.adapters import BASE
from trainers.stacked_lora import stacked_adapters

PEFT_BASE_ROW = "__base__"  # PEFT's name for "no adapter" in a mixed batch
BATCH_ROWS = 16  # rows per generate call: bounds the KV cache on a small CPU


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


def render_prompt(tokenizer, prompt, system: str = "") -> str:
    """The text a model receives: a rendered string as it is, a message list through this tokenizer's template."""
    return prompt if isinstance(prompt, str) else chat_prompt(tokenizer, prompt, system)


def sampling_kwargs(tokenizer, max_new_tokens: int, temperature: float, top_p: float) -> dict:
    kwargs = {"max_new_tokens": int(max_new_tokens), "pad_token_id": tokenizer.pad_token_id,
              "eos_token_id": tokenizer.eos_token_id}
    if temperature and temperature > 0:
        kwargs.update(do_sample=True, temperature=float(temperature), top_p=float(top_p))
    else:
        kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    return kwargs


def encode(tokenizer, texts: list[str], device):
    """Left-padded ids for rendered texts (the template already holds any special tokens)."""
    tokenizer.padding_side = "left"
    return tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)


def generate_batch(model, tokenizer, prompts: list[str], max_new_tokens: int = 64, temperature: float = 0.0,
                   top_p: float = 1.0, adapter_names: list[str] | None = None, seed: int = 0) -> list[str]:
    import torch

    batch = encode(tokenizer, prompts, model.device)
    extra = {"adapter_names": adapter_names} if adapter_names else {}
    torch.manual_seed(seed)
    with torch.inference_mode():
        out = model.generate(**batch, **sampling_kwargs(tokenizer, max_new_tokens, temperature, top_p), **extra)
    return tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)


@contextmanager
def activated(hub, target: str):
    """(model, tokenizer) with `target` active for the block; the base runs with adapters off. Hold `hub.lock`."""
    model, tokenizer, _ = hub.activate(target)
    with hub.base_context() if target == BASE else nullcontext():
        yield model, tokenizer


def _groups(hub, models: list[str]) -> list[list[str]]:
    """Models by the weights they run on: the resident base and its adapters together, each full checkpoint alone."""
    on_base = [m for m in models if hub.adapters_on_base([m])]
    return ([on_base] if on_base else []) + [[m] for m in models if m not in on_base]


def _rows(hub, group: list[str], prompts: list, system: str) -> list[tuple[str, int, str]]:
    """(model, prompt index, rendered text) for one group, shortest prompt first. Activating each model here loads
    every adapter before a mixed chunk needs it."""
    rows = []
    for target in group:
        _, tokenizer, _ = hub.activate(target)
        rows += [(target, i, render_prompt(tokenizer, p, system)) for i, p in enumerate(prompts)]
    return sorted(rows, key=lambda row: len(row[2]))  # stable: equal lengths keep the model order


def _peft_can_mix(model, targets: list[str]) -> bool:
    """Whether PEFT's `adapter_names` can run this chunk. PEFT 0.21 refuses DoRA adapters there, and once the model
    carries an extra trained module (`modules_to_save`) a mixed batch fails in that module's forward: KeyError for a
    row whose adapter did not save it, TypeError for a module other than Linear, Embedding or Conv."""
    from peft.utils.other import AuxiliaryTrainingWrapper

    if any(model.peft_config[t].use_dora for t in targets if t != BASE):
        return False
    return not any(isinstance(m, AuxiliaryTrainingWrapper) for m in model.modules())


def _generate_chunk(hub, chunk: list[tuple[str, int, str]], **kwargs) -> list[str]:
    targets = list(dict.fromkeys(target for target, _, _ in chunk))
    texts = [text for _, _, text in chunk]
    if len(targets) == 1:
        with activated(hub, targets[0]) as (model, tokenizer):
            return generate_batch(model, tokenizer, texts, **kwargs)
    names = [target for target, _, _ in chunk]  # a mixed chunk: the base and adapters of the resident model
    with stacked_adapters(hub.model, [None if t == BASE else t for t in names]) as stacked:
        if stacked or _peft_can_mix(hub.model, targets):
            peft_names = None if stacked else [PEFT_BASE_ROW if t == BASE else t for t in names]
            return generate_batch(hub.model, hub.tokenizer, texts, adapter_names=peft_names, **kwargs)
    answers = [""] * len(chunk)  # neither can mix these rows: each model's rows of the chunk as their own batch
    for target in targets:
        mine = [n for n, name in enumerate(names) if name == target]
        with activated(hub, target) as (model, tokenizer):
            outs = generate_batch(model, tokenizer, [texts[n] for n in mine], **kwargs)
        for n, out in zip(mine, outs, strict=True):
            answers[n] = out
    return answers


def _continuous_group(hub, rows: list[tuple[str, int, str]], step: int, max_new_tokens: int,
                      progress) -> list[str] | None:
    """A group's greedy answers with continuous batching (trainers/continuous.py), or None when it cannot run so:
    a model whose `generate` processes logits or whose cache cannot be joined, or adapters that cannot be stacked."""
    from trainers.continuous import continuous_greedy, supported

    targets = list(dict.fromkeys(target for target, _, _ in rows))
    texts = [text for _, _, text in rows]
    if len(targets) == 1:
        with activated(hub, targets[0]) as (model, tokenizer):
            if not supported(model):
                return None
            return continuous_greedy(model, tokenizer, texts, max_new_tokens, step, on_done=progress)
    if not supported(hub.model):
        return None
    names = [None if target == BASE else target for target, _, _ in rows]
    with stacked_adapters(hub.model, names) as stacked:
        if not stacked:
            return None
        return continuous_greedy(hub.model, hub.tokenizer, texts, max_new_tokens, step, on_done=progress,
                                 on_rows=lambda batch: stacked.select([names[i] for i in batch]))


def answer_grid(hub, models: list[str], prompts: list, max_new_tokens: int = 64, system: str = "", progress=None,
                batch_size: int = BATCH_ROWS, temperature: float = 0.0, top_p: float = 1.0,
                continuous: bool = True) -> dict[str, list[str]]:
    """{model: [answer for each prompt]} for "base", run ids or adapter folders, with the batching policy above
    (`continuous=False` keeps the chunks, which bench compares with).

    Greedy answers use continuous batching where the model allows it (at most `batch_size` rows at a time, a
    finished row's place taken by the next prompt); otherwise, and when sampling, chunks of `batch_size` rows each
    run one `generate`. `progress(n)` is called with the number of answers finished; an exception it raises (a
    cancelled job) propagates and stops the generation. The hub lock is held throughout: the active adapter is
    state of the shared model."""
    models = list(dict.fromkeys(models))
    answers = {m: [""] * len(prompts) for m in models}
    settings = {"max_new_tokens": max_new_tokens, "temperature": temperature, "top_p": top_p}
    step = max(1, int(batch_size))
    with hub.lock:
        hub.ensure_base()
        for group in _groups(hub, models):
            rows = _rows(hub, group, prompts, system)
            together = None if not continuous or (temperature and temperature > 0) else _continuous_group(
                hub, rows, step, max_new_tokens, progress)
            if together is not None:
                for (target, i, _), answer in zip(rows, together, strict=True):
                    answers[target][i] = answer
                continue
            for start in range(0, len(rows), step):
                chunk = rows[start:start + step]
                for (target, i, _), answer in zip(chunk, _generate_chunk(hub, chunk, **settings), strict=True):
                    answers[target][i] = answer
                if progress:
                    progress(len(chunk))
    return answers


def stream_chat(hub, target: str, messages: list[dict], system: str = "", temperature: float = 0.0,
                top_p: float = 0.95, max_new_tokens: int = 128):
    """Yield the growing answer: the activation, rendering and encoding of a one-row `answer_grid` call, with a
    streamer. The hub lock is held until generation ends, so no one swaps adapters under us."""
    import torch
    from transformers import TextIteratorStreamer

    with hub.lock:
        hub.ensure_base()
        with activated(hub, target) as (model, tokenizer):
            batch = encode(tokenizer, [render_prompt(tokenizer, messages, system)], model.device)
            streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=120)
            errors = []

            def work():
                try:
                    torch.manual_seed(0)  # as generate_batch, so a sampled chat draws what answer_grid draws
                    with torch.inference_mode():
                        model.generate(**batch, streamer=streamer,
                                       **sampling_kwargs(tokenizer, max_new_tokens, temperature, top_p))
                except Exception as err:  # surfaced to the caller after the stream closes
                    errors.append(err)
                    streamer.end()

            thread = threading.Thread(target=work, daemon=True)
            thread.start()
            try:
                text = ""
                for piece in streamer:
                    if not piece:  # the streamer holds back a partial word and reports it as "": nothing new
                        continue
                    text += piece
                    yield text
            finally:
                thread.join()  # a reader that stops early must not leave generate running after the lock is freed
            if errors:
                raise errors[0]


__all__ = ["message_text", "chat_prompt", "render_prompt", "generate_batch", "answer_grid", "stream_chat"]
