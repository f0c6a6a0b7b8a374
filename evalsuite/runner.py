"""Run the suite on the base model and any set of runs, on one resident base with adapters hot-swapped.

    from evalsuite.runner import run_eval
    report = run_eval(["base", run_id], out_dir="outputs/eval/x", limit=10)
    python -m evalsuite run --base --runs RUN_ID --out DIR

Each query becomes several variants: every paraphrase in the chat format (what Chat shows), and the canonical
phrasing under two training templates and every held-out template. Generation is greedy and batched (prompts
sorted by length, left-padded). Answers are cached per (model content hash, query, variant, prompt) in
$PLAYGROUND_HOME/eval_cache.jsonl, so a re-run only generates what changed; scoring is always redone.
"""

import ast
import hashlib
import json
import time
from pathlib import Path

from evalsuite.report import write_report
from evalsuite.scorers import score_details
from evalsuite.suite import load_suite
from trainers.adapters import BASE, ModelHub, describe_target
from trainers.generate import generate_batch
from trainers.paths import home
from trainers.templates import CHAT, HELDOUT_TEMPLATES, render_with_template

SEEN_TEMPLATES = ("alpaca", "qa")  # training templates other than chat, to tell seen from held-out formats


def build_variants(query, tokenizer) -> list[dict]:
    variants = [{"variant": f"p{i}", "variant_kind": "paraphrase",
                 "prompt": render_with_template(CHAT, text, query.input or "", tokenizer)}
                for i, text in enumerate(query.paraphrases)]
    for kind, names in (("seen_template", SEEN_TEMPLATES), ("heldout_template", tuple(HELDOUT_TEMPLATES))):
        variants += [{"variant": f"tpl:{name}", "variant_kind": kind,
                      "prompt": render_with_template(name, query.canonical, query.input or "", tokenizer)}
                     for name in names]
    return variants


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


def static_code_check(answer: str, check: dict) -> dict:
    """Without the sandbox: does the answer define the asked-for function in valid Python? Labelled as such."""
    from evalsuite.sandbox import extract_code

    try:
        tree = ast.parse(extract_code(answer, check["function"]))
        ok = any(isinstance(n, ast.FunctionDef) and n.name == check["function"] for n in ast.walk(tree))
        why = "defines the function" if ok else f"no function named {check['function']}"
    except SyntaxError as err:
        ok, why = False, f"not valid Python ({err.msg})"
    return {"score": float(ok), "passed": ok, "why": f"static check only, code not executed: {why}",
            "extra": {"executed": False}}


def generate_for_target(hub, target, jobs, batch_size, max_new_tokens, progress=None) -> list[str]:
    """Answers for `jobs` (dicts with a prompt) from one model, batched and sorted by length to limit padding."""
    from contextlib import nullcontext

    order = sorted(range(len(jobs)), key=lambda i: len(jobs[i]["prompt"]))
    answers = [""] * len(jobs)
    with hub.lock:
        model, tokenizer, _ = hub.activate(target)
        with hub.base_context() if target == BASE else nullcontext():
            for start in range(0, len(order), batch_size):
                chunk = order[start:start + batch_size]
                outs = generate_batch(model, tokenizer, [jobs[i]["prompt"] for i in chunk], max_new_tokens)
                for i, out in zip(chunk, outs, strict=True):
                    answers[i] = out.strip()
                if progress:
                    progress(len(chunk))
    return answers


def run_eval(models: list[str], out_dir=None, base_model: str = "embedded", limit: int | None = None,
             include_code: bool = False, progress=None, max_new_tokens: int = 64, batch_size: int = 16,
             hub: ModelHub | None = None, use_cache: bool = True) -> dict:
    """Evaluate each target ("base" or a run id) on the suite; writes report.json/csv/html when `out_dir` is set."""
    queries = load_suite()
    if limit:  # keep every category represented in a short run
        by_cat = {}
        for q in queries:
            by_cat.setdefault(q.category, []).append(q)
        per = max(1, limit // len(by_cat))
        queries = [q for qs in by_cat.values() for q in qs[:per]]
    hub = hub or ModelHub(base_model)
    _, tokenizer = hub.ensure_base()
    cache = AnswerCache(home() / "eval_cache.jsonl") if use_cache else None
    started, results, generated = time.perf_counter(), [], 0
    for target in models:
        key = model_key(target, hub.base_name)
        jobs = [{"query": q, **v} for q in queries for v in build_variants(q, tokenizer)]
        keys = [AnswerCache.key(key, j["query"].id, j["variant"], j["prompt"], max_new_tokens) for j in jobs]
        todo = [i for i, k in enumerate(keys) if cache is None or k not in cache.entries]
        fresh = generate_for_target(hub, target, [jobs[i] for i in todo], batch_size, max_new_tokens, progress)
        generated += len(todo)
        for i, answer in zip(todo, fresh, strict=True):
            if cache is not None:
                cache.add(keys[i], answer)
        for job, k, i in zip(jobs, keys, range(len(jobs)), strict=True):
            answer = cache.entries[k] if cache is not None else fresh[todo.index(i)]
            results.append(score_row(target, job, answer, include_code))
    meta = {"models": models, "base_model": hub.base_name, "queries": len(queries), "generated": generated,
            "cached": len(results) - generated, "seconds": round(time.perf_counter() - started, 1),
            "max_new_tokens": max_new_tokens, "code_executed": include_code, "decoding": "greedy"}
    if out_dir:
        paths = write_report(results, out_dir, meta)
        return json.loads(Path(paths["json"]).read_text())
    from evalsuite.report import build_report

    return build_report(results, meta)


def score_row(target: str, job: dict, answer: str, include_code: bool) -> dict:
    query = job["query"]
    if query.check["type"] == "code" and not include_code:
        details = static_code_check(answer, query.check)
    else:
        details = score_details(query, answer)
    return {"model": target, "query_id": query.id, "category": query.category, "variant": job["variant"],
            "variant_kind": job["variant_kind"], "prompt": job["prompt"], "answer": answer, **details}
