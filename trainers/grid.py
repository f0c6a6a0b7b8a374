"""Many prompts x many stages in as few generate calls as possible: the grid behind the paraphrase test.

    prompts = [("Convert 2 km to m.", False), ("### Instruction:\\nConvert 2 km to m.\\n\\n### Response:\\n", True)]
    answers = answer_grid(hub, prompts, ["base", run_a, run_b])     # {target: [answer per prompt]}

A prompt is (text, raw): raw text goes to the model as it is (a training or held-out template already rendered);
otherwise it is one user message in the chat template. The base and its adapters answer together, several rows
per batch with PEFT's per-row `adapter_names`; full Stage 1/2 checkpoints are separate models and answer alone.
"""

from contextlib import nullcontext

from trainers.generate import PEFT_BASE_ROW, chat_prompt, generate_batch

BATCH_ROWS = 16  # rows per generate call: bounds the KV cache on a small CPU


def _texts(tokenizer, prompts: list[tuple[str, bool]], system: str = "") -> list[str]:
    return [text if raw else chat_prompt(tokenizer, [{"role": "user", "content": text}], system)
            for text, raw in prompts]


def _batched(model, tokenizer, texts: list[str], names: list[str] | None, max_new_tokens: int) -> list[str]:
    out = []
    for i in range(0, len(texts), BATCH_ROWS):
        chunk_names = names[i:i + BATCH_ROWS] if names else None
        out += generate_batch(model, tokenizer, texts[i:i + BATCH_ROWS], max_new_tokens, adapter_names=chunk_names)
    return out


def answer_grid(hub, prompts: list[tuple[str, bool]], targets: list[str], max_new_tokens: int = 48,
                system: str = "") -> dict[str, list[str]]:
    """{target: [answer for each prompt]}, greedy, under the hub lock (the active adapter is shared state)."""
    answers: dict[str, list[str]] = {}
    with hub.lock:
        hub.ensure_base()
        on_base = [t for t in targets if hub.adapters_on_base([t])]
        for target in on_base:
            if target != "base":
                hub.activate(target)  # loads each adapter once
        texts = _texts(hub.tokenizer, prompts, system)
        if len(on_base) > 1 and any(t != "base" for t in on_base):
            rows = [(t, text) for t in on_base for text in texts]
            names = [PEFT_BASE_ROW if t == "base" else t for t, _ in rows]
            outs = _batched(hub.model, hub.tokenizer, [text for _, text in rows], names, max_new_tokens)
            for n, target in enumerate(on_base):
                answers[target] = outs[n * len(texts):(n + 1) * len(texts)]
        else:
            for target in on_base:
                model, tokenizer, _ = hub.activate(target)
                with hub.base_context() if target == "base" else nullcontext():
                    answers[target] = _batched(model, tokenizer, texts, None, max_new_tokens)
        for target in targets:
            if target not in answers:  # a full checkpoint: its own model and tokenizer
                model, tokenizer, _ = hub.activate(target)
                answers[target] = _batched(model, tokenizer, _texts(tokenizer, prompts, system), None, max_new_tokens)
    return {t: answers[t] for t in targets}
