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
from trainers.templates import render_messages

PEFT_BASE_ROW = "__base__"  # PEFT's name for "no adapter" in a mixed batch
BATCH_ROWS = 64  # rows decoded together: on 2 CPU cores 64 rows answer 1.7x faster than 16, 96 no faster


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
    return render_messages(tokenizer, turns)


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
    """Left-padded ids for rendered texts, with the tokenizer's own special tokens as in training (token_ids)."""
    tokenizer.padding_side = "left"
    return tokenizer(texts, return_tensors="pt", padding=True).to(device)


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
    with stacked_adapters(hub.model, names[:step], adapters=names) as stacked:
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


STREAM_TIMEOUT_S = 120  # no new text for this long: the generation is given up and stopped
SLICE_TOKENS = 16  # a streamed answer takes the shared model this many tokens at a time, then queues again


def stop_when_set(event: threading.Event):
    """A StoppingCriteria that ends generate() at the next step once `event` is set (from any thread)."""
    import torch
    from transformers import StoppingCriteria

    class StopWhenSet(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            return torch.full((input_ids.shape[0],), event.is_set(), dtype=torch.bool, device=input_ids.device)

    return StopWhenSet()


def _relay(tokenizer, out):
    """A streamer that passes text to `out` across several generate calls, each a slice of one answer: between
    slices it holds back a partial word (never a broken character) and skips the next call's prompt."""
    from transformers import TextStreamer

    class SliceStreamer(TextStreamer):
        def on_finalized_text(self, text: str, stream_end: bool = False):
            if text:
                out.put(("text", text))

        def end(self):  # generate() calls this after each slice: the answer goes on
            self.next_tokens_are_prompt = True

        def finish(self):
            TextStreamer.end(self)

    return SliceStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)


def _get_rng():
    import torch

    return torch.get_rng_state(), torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None


def _set_rng(state) -> None:
    import torch

    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state_all(state[1])


def _generate_in_slices(hub, target: str, batch, settings: dict, stop: threading.Event, out) -> None:
    """Greedy or sampled generation of one row, SLICE_TOKENS at a time, each slice under the hub lock with `target`
    activated again (another request may have switched adapters in between); the KV cache carries over, so the
    tokens are those of one generate() call, and the random state too, so a sampled answer is as well."""
    import torch
    from transformers import StoppingCriteriaList

    ids, mask, cache, rng, done = batch["input_ids"], batch["attention_mask"], None, None, 0
    relay = None
    while done < settings["max_new_tokens"] and not stop.is_set():
        step = min(SLICE_TOKENS, settings["max_new_tokens"] - done)
        with hub.lock:
            with activated(hub, target) as (model, tokenizer):
                relay = relay or _relay(tokenizer, out)
                if rng is None:
                    torch.manual_seed(0)  # as generate_batch, so a sampled chat draws what answer_grid draws
                else:
                    _set_rng(rng)
                kwargs = {**sampling_kwargs(tokenizer, step, settings["temperature"], settings["top_p"])}
                with torch.inference_mode():
                    result = model.generate(input_ids=ids, attention_mask=mask, past_key_values=cache, streamer=relay,
                                            stopping_criteria=StoppingCriteriaList([stop_when_set(stop)]),
                                            return_dict_in_generate=True, **kwargs)
                rng = _get_rng()
        new = result.sequences.shape[1] - ids.shape[1]
        ids, cache, done = result.sequences, result.past_key_values, done + new
        mask = torch.ones_like(ids)
        if new < step or ids[0, -1].item() == tokenizer.eos_token_id:
            break
    if relay is not None:
        relay.finish()


def stream_chat(hub, target: str, messages: list[dict], system: str = "", temperature: float = 0.0,
                top_p: float = 0.95, max_new_tokens: int = 128, stop_event: threading.Event | None = None):
    """Yield the growing answer: the activation, rendering and encoding of a one-row `answer_grid` call, streamed.
    The shared model is taken one slice at a time (SLICE_TOKENS), in arrival order, so a short chat next to a long
    one waits for a slice, not for the whole answer. Generation stops at the next step when the reader goes away
    (the generator is closed), when no text came for STREAM_TIMEOUT_S, or when `stop_event` is set: the model is
    never held for an answer nobody reads."""
    import queue

    stop = stop_event or threading.Event()
    with hub.lock:
        hub.ensure_base()
        with activated(hub, target) as (model, tokenizer):
            batch = encode(tokenizer, [render_prompt(tokenizer, messages, system)], model.device)
    settings = {"max_new_tokens": int(max_new_tokens), "temperature": temperature, "top_p": top_p}
    pieces: queue.Queue = queue.Queue()

    def work():
        try:
            _generate_in_slices(hub, target, batch, settings, stop, pieces)
        except Exception as err:  # surfaced to the reader
            pieces.put(("error", err))
        finally:
            pieces.put(("done", None))

    thread = threading.Thread(target=work, daemon=True, name="chat-generate")
    thread.start()
    try:
        text = ""
        while True:
            kind, value = pieces.get(timeout=STREAM_TIMEOUT_S)
            if kind == "done":
                return
            if kind == "error":
                raise value
            text += value
            yield text
    except queue.Empty:
        raise TimeoutError(f"no new text within {STREAM_TIMEOUT_S} s; the generation was stopped") from None
    finally:
        stop.set()  # finished, abandoned or timed out: generation ends at its next step
        thread.join()


__all__ = ["message_text", "chat_prompt", "render_prompt", "generate_batch", "answer_grid", "stream_chat"]
