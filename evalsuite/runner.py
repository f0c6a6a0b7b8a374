"""Run the suite on the base model and any set of runs, on one resident base with adapters hot-swapped.

    from evalsuite.runner import run_eval, planned_generations
    report = run_eval(["base", run_id], out_dir="outputs/eval/x", limit=10)
    planned_generations(2, limit=10)      # answers that evaluation generates when nothing is cached yet
    python -m evalsuite run --base --runs RUN_ID --out DIR

Each query becomes the variants of evalsuite.variants (every paraphrase as a chat message, the canonical phrasing
under two training templates and every held-out template), answered through `trainers.generate.answer_grid`, the
path Chat, Compare and the Paraphrase test use, so an adapter answers here what it answers there. Answers are
cached per (model content hash, query, variant, prompt) in $PLAYGROUND_HOME/eval_cache.jsonl, so a re-run only
generates what changed; scoring is always redone.
"""

import ast
import hashlib
import json
import time
from pathlib import Path

from evalsuite.report import write_report
from evalsuite import sandbox
from evalsuite.scorers import score_details
from evalsuite.suite import load_suite, select_queries
from evalsuite.variants import SEEN_TEMPLATES, query_variants  # noqa: F401 (the evaluate tab imports it from here)
from trainers.adapters import BASE, ModelHub, describe_target
from trainers.generate import BATCH_ROWS, answer_grid, render_prompt
from trainers.paths import home


def planned_generations(n_models: int, limit: int | None = None) -> int:
    """How many answers an evaluation of `n_models` models on `limit` queries generates before the answer cache
    (the total its `progress` calls add up to when nothing is cached)."""
    queries = select_queries(load_suite(), limit)
    return n_models * sum(len(query_variants(q)) for q in queries)


def model_key(target: str, base_model: str) -> str:
    """Identity of what answers: the base name, or a hash of the adapter / checkpoint weights."""
    if target == BASE:
        return f"base:{base_model}"
    folder = Path(describe_target(target)["dir"])
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.safetensors")):
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                digest.update(block)
    return f"{base_model}+{digest.hexdigest()[:16]}"


class AnswerCache:
    def __init__(self, path: Path):
        self.path, self.entries = path, {}
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                self.entries[row["key"]] = row["answer"]

    @staticmethod
    def key(model: str, query_id: str, variant: str, prompt: str, max_new_tokens: int) -> str:
        return hashlib.sha256(f"{model}|{query_id}|{variant}|{max_new_tokens}|{prompt}".encode()).hexdigest()

    def add(self, key: str, answer: str) -> None:
        self.entries[key] = answer
        with open(self.path, "a") as f:
            f.write(json.dumps({"key": key, "answer": answer}) + "\n")


def static_code_check(answer: str, check: dict, refused: str | None = None) -> dict:
    """Without the sandbox: does the answer define the asked-for function in valid Python? Labelled as such, with
    `refused` (why the code was not run, see evalsuite.sandbox.code_refusal) in front when there is one."""
    from evalsuite.sandbox import extract_code

    try:
        tree = ast.parse(extract_code(answer, check["function"]))
        ok = any(isinstance(n, ast.FunctionDef) and n.name == check["function"] for n in ast.walk(tree))
        why = "defines the function" if ok else f"no function named {check['function']}"
    except SyntaxError as err:
        ok, why = False, f"not valid Python ({err.msg})"
    label = f"{refused}; static check only" if refused else "static check only, code not executed"
    return {"score": float(ok), "passed": ok, "why": f"{label}: {why}", "extra": {"executed": False}}


def _answers(hub, models, jobs, keys, cache, batch_size, max_new_tokens, progress) -> dict:
    """{(model, job index): answer} for every job not in the cache, the models whose missing jobs are the same
    answering together in one `answer_grid` call (usually: all of them, or none on a re-run)."""
    missing: dict[tuple, list[str]] = {}
    for target in models:
        todo = tuple(i for i, k in enumerate(keys[target]) if cache is None or k not in cache.entries)
        missing.setdefault(todo, []).append(target)
    fresh = {}
    for todo, group in missing.items():
        if not todo:
            continue
        got = answer_grid(hub, group, [jobs[i]["prompt"] for i in todo], max_new_tokens, progress=progress,
                          batch_size=batch_size)
        for target in group:
            for i, answer in zip(todo, got[target], strict=True):
                fresh[target, i] = answer.strip()
                if cache is not None:
                    cache.add(keys[target][i], fresh[target, i])
    return fresh


def run_eval(models: list[str], out_dir=None, base_model: str = "embedded", limit: int | None = None,
             include_code: bool = False, progress=None, max_new_tokens: int = 64, batch_size: int = BATCH_ROWS,
             hub: ModelHub | None = None, use_cache: bool = True) -> dict:
    """Evaluate each target ("base" or a run id) on the suite; writes report.json/csv/html when `out_dir` is set.
    `progress(n)` gets the number of answers generated after each batch of at most `batch_size` rows; an exception
    it raises stops the evaluation."""
    models = list(dict.fromkeys(models))
    queries = select_queries(load_suite(), limit)
    hub = hub or ModelHub(base_model)
    _, tokenizer = hub.ensure_base()
    cache = AnswerCache(home() / "eval_cache.jsonl") if use_cache else None
    started = time.perf_counter()
    jobs = [{"query": q, **v} for q in queries for v in query_variants(q)]
    for job in jobs:  # the text the base's tokenizer sends: the report's prompt and the cache key
        job["text"] = render_prompt(tokenizer, job["prompt"])
    identities = {t: model_key(t, hub.base_name) for t in models}  # hashes the weights: once per model
    keys = {t: [AnswerCache.key(identities[t], j["query"].id, j["variant"], j["text"], max_new_tokens) for j in jobs]
            for t in models}
    generating = time.perf_counter()
    fresh = _answers(hub, models, jobs, keys, cache, batch_size, max_new_tokens, progress)
    generate_s = time.perf_counter() - generating  # the part that grows with the answers (trainers/timing.py)
    # public mode runs model-written code only inside the full kernel sandbox, whoever asked for it (UI or API)
    refused = sandbox.code_refusal() if include_code else None
    results = [score_row(t, job, fresh[t, i] if (t, i) in fresh else cache.entries[keys[t][i]],
                         include_code and not refused, refused) for t in models for i, job in enumerate(jobs)]
    meta = {"models": models, "base_model": hub.base_name, "queries": len(queries), "generated": len(fresh),
            "cached": len(results) - len(fresh), "seconds": round(time.perf_counter() - started, 1),
            "generate_s": round(generate_s, 3),
            "max_new_tokens": max_new_tokens, "code_executed": include_code and not refused,
            "code_sandbox": sandbox.sandbox_status()["summary"] if include_code else None, "code_refused": refused,
            "decoding": "greedy"}
    if out_dir:
        paths = write_report(results, out_dir, meta)
        return json.loads(Path(paths["json"]).read_text())
    from evalsuite.report import build_report

    return build_report(results, meta)


def score_row(target: str, job: dict, answer: str, include_code: bool, refused: str | None = None) -> dict:
    query = job["query"]
    if query.check["type"] == "code" and not include_code:
        details = static_code_check(answer, query.check, refused)
    else:
        details = score_details(query, answer)
    return {"model": target, "query_id": query.id, "category": query.category, "variant": job["variant"],
            "variant_kind": job["variant_kind"], "prompt": job["text"], "answer": answer, **details}
