"""Adapter switching, batched compare, streamed chat latency and the evaluation suite, on one resident base."""

import statistics
import time

from bench.common import emit
from trainers.generate import BATCH_ROWS


def bench_switch(hub, adapters: list[str], repeats: int = 20) -> None:
    from peft import PeftModel

    from trainers.adapters import describe_target
    from trainers.models import load_model

    for run_id in adapters:
        hub.activate(run_id)  # first load is not a switch
    times = []
    for i in range(repeats):
        times.append(hub.activate(adapters[i % len(adapters)])[2])
    switch_ms = statistics.median(times)
    started = time.perf_counter()
    model = load_model(hub.base_name)
    PeftModel.from_pretrained(model, describe_target(adapters[0])["dir"])
    reload_ms = (time.perf_counter() - started) * 1000
    emit("adapter_switch_ms", switch_ms, "ms", target="<= 20")
    emit("adapter_reload_ms", reload_ms, "ms")
    emit("adapter_switch_vs_reload", reload_ms / switch_ms, "x", target=">= 100")


def _compare(hub, targets: list[str], prompt: str, max_new_tokens: int, batch_size: int) -> dict[str, str]:
    """What the Compare tab does; batch_size=1 makes every model answer alone, one generate call each."""
    from trainers.generate import answer_grid

    grid = answer_grid(hub, targets, [[{"role": "user", "content": prompt}]], max_new_tokens, batch_size=batch_size)
    return {target: outs[0] for target, outs in grid.items()}


def bench_compare(hub, targets: list[str], prompt: str, max_new_tokens: int = 48) -> None:
    _compare(hub, targets, prompt, max_new_tokens, batch_size=len(targets))  # warm-up
    started = time.perf_counter()
    batched = _compare(hub, targets, prompt, max_new_tokens, batch_size=len(targets))
    batched_s = time.perf_counter() - started
    started = time.perf_counter()
    sequential = _compare(hub, targets, prompt, max_new_tokens, batch_size=1)
    sequential_s = time.perf_counter() - started
    same = sum(batched[t] == sequential[t] for t in targets)
    lengths = [len(hub.tokenizer(sequential[t], add_special_tokens=False)["input_ids"]) for t in targets]
    # bf16 matmuls round differently at batch 4 than at batch 1, so long greedy answers can part after a while
    agree = [_common_prefix_tokens(hub.tokenizer, batched[t], sequential[t]) for t in targets]
    emit("compare_batched_s", batched_s, "s", rows=len(targets))
    emit("compare_sequential_s", sequential_s, "s", rows=len(targets))
    emit("compare_batched_speedup", sequential_s / batched_s, "x", target=">= 2",
         same_answers=f"{same}/{len(targets)}", answer_tokens=lengths, tokens_before_answers_part=agree)


def _common_prefix_tokens(tokenizer, a: str, b: str) -> int:
    ids_a, ids_b = (tokenizer(text, add_special_tokens=False)["input_ids"] for text in (a, b))
    return next((i for i, (x, y) in enumerate(zip(ids_a, ids_b, strict=False)) if x != y),
                min(len(ids_a), len(ids_b)))


def bench_chat(hub, prompt: str = "Explain in three sentences why the sky is blue.", max_new_tokens: int = 64):
    from trainers.adapters import BASE
    from trainers.generate import stream_chat

    list(stream_chat(hub, BASE, [{"role": "user", "content": "Hi"}], max_new_tokens=4))  # warm-up
    started = time.perf_counter()
    first = None
    text = ""
    for partial in stream_chat(hub, BASE, [{"role": "user", "content": prompt}], max_new_tokens=max_new_tokens):
        text = partial
        if first is None:
            first = time.perf_counter() - started
    total = time.perf_counter() - started
    tokens = len(hub.tokenizer(text, add_special_tokens=False)["input_ids"])
    emit("chat_first_token_s", first, "s", target="<= 0.5")
    emit("chat_decode_tokens_per_s", (tokens - 1) / max(total - first, 1e-9), "tokens/s", tokens=tokens)


def bench_eval(hub, targets: list[str], limit: int | None, subset: int = 12) -> None:
    from evalsuite.runner import run_eval
    from trainers.adapters import BASE

    started = time.perf_counter()
    report = run_eval(targets, None, base_model=hub.base_name, limit=limit, hub=hub, use_cache=False)
    emit("eval_suite_s", time.perf_counter() - started, "s", models=len(targets), queries=report["meta"]["queries"],
         generations=report["meta"]["generated"])
    timings = {}
    for batch_size in (BATCH_ROWS, 1):
        started = time.perf_counter()
        run_eval([BASE], None, base_model=hub.base_name, limit=subset, hub=hub, use_cache=False,
                 batch_size=batch_size)
        timings[batch_size] = time.perf_counter() - started
    emit("eval_batched_speedup", timings[1] / timings[BATCH_ROWS], "x", target=">= 3", subset_queries=subset)
    bench_continuous(hub, targets, subset)


def bench_continuous(hub, targets: list[str], subset: int) -> None:
    """The evaluation's answers for every target, continuous batching against chunks that each last as long as
    their longest row, side by side."""
    from evalsuite.suite import load_suite, select_queries
    from evalsuite.variants import query_variants
    from trainers.generate import answer_grid

    prompts = [v["prompt"] for q in select_queries(load_suite(), subset) for v in query_variants(q)]
    seconds, grids = {}, {}
    for continuous in (False, True):
        started = time.perf_counter()
        grids[continuous] = answer_grid(hub, targets, prompts, 32, continuous=continuous)
        seconds[continuous] = time.perf_counter() - started
    same = sum(a == b for t in targets for a, b in zip(grids[False][t], grids[True][t], strict=True))
    emit("eval_continuous_speedup", seconds[False] / seconds[True], "x", answers=len(prompts) * len(targets),
         chunked_s=round(seconds[False], 1), continuous_s=round(seconds[True], 1),
         same_answers=f"{same}/{len(prompts) * len(targets)}",
         note="answers that differ part by bf16 batch-composition noise; fp32 gives the same (tests)")


class _NoEos:
    """The tokenizer with no end-of-sequence token, so every row decodes the full `new_tokens`."""

    eos_token_id = None

    def __init__(self, tokenizer):
        self._tokenizer = tokenizer

    def __getattr__(self, name):
        return getattr(self._tokenizer, name)

    def __call__(self, *args, **kwargs):
        return self._tokenizer(*args, **kwargs)


def bench_generation(hub, rows: int = BATCH_ROWS, new_tokens: int = 64) -> None:
    """Greedy decoding as the evaluation runs it (`trainers.continuous.continuous_greedy`, BATCH_ROWS suite prompts
    at once), every row made to run the full `new_tokens`. The roofline fraction is the decode's alone (the time of a
    one-token run, the prefill, taken off) against this machine's decode limit: a step reads every weight once
    (memory bound) and does 2 x params x rows FLOPs (compute bound), whichever takes longer."""
    from bench.common import compute_dtype, matmul_peak_gflops, memory_bandwidth_gbs
    from evalsuite.suite import load_suite, select_queries
    from evalsuite.variants import query_variants
    from trainers.continuous import continuous_greedy
    from trainers.generate import render_prompt
    from trainers.templates import token_ids

    model, tokenizer = hub.ensure_base()
    prompts = [render_prompt(tokenizer, v["prompt"]) for q in select_queries(load_suite(), rows)
               for v in query_variants(q)][:rows]
    no_eos = _NoEos(tokenizer)

    def timed(tokens: int) -> float:
        started = time.perf_counter()
        continuous_greedy(model, no_eos, prompts, max_new_tokens=tokens, batch_rows=len(prompts))
        return time.perf_counter() - started

    timed(2)  # warm-up
    prefill_s, seconds = timed(1), timed(new_tokens)
    generated = new_tokens * len(prompts)
    params = sum(p.numel() for p in model.parameters())
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    device = str(model.device.type)
    bandwidth = memory_bandwidth_gbs(device) * 1e9
    peak = matmul_peak_gflops(compute_dtype(device), device=device) * 1e9
    step_limit_s = max(weight_bytes / bandwidth, 2 * params * len(prompts) / peak)
    limit = len(prompts) / step_limit_s
    measured = generated / seconds
    decode = len(prompts) * (new_tokens - 1) / max(seconds - prefill_s, 1e-9)
    emit("gen_tokens_per_s", measured, "tokens/s", rows=len(prompts), new_tokens=new_tokens,
         prompt_tokens=max(len(token_ids(tokenizer, p)) for p in prompts), seconds=round(seconds, 2),
         prefill_s=round(prefill_s, 2), decode_tokens_per_s=round(decode, 1), path="continuous_greedy")
    emit("gen_roofline_fraction", decode / limit, "fraction", target=">= 0.5", roofline_tokens_per_s=round(limit, 1),
         weight_mb=round(weight_bytes / 2**20, 1), bandwidth_gbs=round(bandwidth / 1e9, 1),
         peak_gflops=round(peak / 1e9, 1), bound="memory" if weight_bytes / bandwidth > 2 * params * len(prompts) /
         peak else "compute", measured="decode steps only, the prefill timed apart")
