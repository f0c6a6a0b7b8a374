"""Robustness metrics: does a model give the same, right answer however the same task is asked?

For one (model, query) the runner produces several variants, each a result row with `variant` ("p0", "p1",
"tpl:alpaca", ...), `variant_kind` ("paraphrase" | "seen_template" | "heldout_template"), `score`, `passed` and
`answer`. The canonical variant is the first paraphrase ("p0").

Usage:

    from evalsuite.robustness import query_metrics, model_robustness
    query_metrics(rows_for_one_model_and_query)     # {"overall": {...}, "paraphrase": {...}, ...}
    model_robustness(all_result_rows)               # model -> {"overall": {...}, <kind>: {...}, "per_query": {...}}
    grid_robustness(variants, answers, scores, "q1")  # the same for one task's grid of answers (Paraphrase test)

Metrics over a set of variants:
    mean, worst (min), best (max), spread (max - min), std (population std of the scores),
    consistency: fraction of variant pairs whose normalised answers are identical (None with < 2 variants),
    flip_rate: fraction of non-canonical variants whose pass/fail differs from the canonical's (None without one).
A model's numbers are the means of its per-query numbers (queries lacking a metric are skipped), so every query
weighs the same however many variants it has. Stage 1 should show a high spread and flip rate; stage 2 low ones.
"""

import math
from collections import defaultdict
from itertools import combinations

from evalsuite.scorers import normalize_text

KINDS = ("paraphrase", "seen_template", "heldout_template")
METRICS = ("mean", "worst", "best", "spread", "std", "consistency", "flip_rate")
CANONICAL = "p0"


def _canonical(rows: list[dict]) -> dict | None:
    return next((r for r in rows if r.get("variant") == CANONICAL), None)


def variant_metrics(rows: list[dict], canonical: dict | None = None) -> dict:
    """The metrics over one set of variants of one query; `canonical` is the reference for the flip rate."""
    if not rows:
        return {m: None for m in METRICS} | {"n": 0}
    scores = [float(r["score"]) for r in rows]
    mean = sum(scores) / len(scores)
    answers = [normalize_text(r.get("answer") or "") for r in rows]
    pairs = list(combinations(answers, 2))
    others = [r for r in rows if canonical is not None and r is not canonical]
    return {
        "n": len(rows),
        "mean": mean,
        "worst": min(scores),
        "best": max(scores),
        "spread": max(scores) - min(scores),
        "std": math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores)),
        "consistency": sum(a == b for a, b in pairs) / len(pairs) if pairs else None,
        "flip_rate": (sum(bool(r["passed"]) != bool(canonical["passed"]) for r in others) / len(others)
                      if others else None),
    }


def query_metrics(rows: list[dict]) -> dict:
    """Metrics for one (model, query): over all its variants and per variant kind."""
    canonical = _canonical(rows)
    out = {"overall": variant_metrics(rows, canonical)}
    for kind in KINDS:
        subset = [r for r in rows if r.get("variant_kind") == kind]
        if subset:
            out[kind] = variant_metrics(subset, canonical)
    return out


def _mean_of(per_query: list[dict]) -> dict:
    out = {"n_queries": len(per_query)}
    for m in METRICS:
        values = [q[m] for q in per_query if q.get(m) is not None]
        out[m] = sum(values) / len(values) if values else None
    return out


def model_robustness(results: list[dict]) -> dict:
    """model -> {"overall": means over queries, "paraphrase"/"seen_template"/"heldout_template": same for that
    kind of variant, "per_query": query_id -> query_metrics}."""
    grouped = defaultdict(lambda: defaultdict(list))
    for r in results:
        grouped[r["model"]][r["query_id"]].append(r)
    report = {}
    for model, queries in grouped.items():
        per_query = {qid: query_metrics(rows) for qid, rows in queries.items()}
        entry = {"overall": _mean_of([q["overall"] for q in per_query.values()])}
        for kind in KINDS:
            entry[kind] = _mean_of([q[kind] for q in per_query.values() if kind in q])
        entry["per_query"] = per_query
        report[model] = entry
    return report


def grid_results(variants: list[dict], answers: dict[str, list[str]], scores: dict[str, list[tuple]],
                 query_id: str) -> list[dict]:
    """Result rows (as the runner writes them) for a grid: variants from evalsuite.variants, answers and
    (score, passed) per model and variant."""
    return [{"model": model, "query_id": query_id, "variant": v["variant"], "variant_kind": v["variant_kind"],
             "score": score, "passed": bool(passed), "answer": answer}
            for model in answers
            for v, answer, (score, passed) in zip(variants, answers[model], scores[model], strict=True)]


def grid_robustness(variants: list[dict], answers: dict[str, list[str]], scores: dict[str, list[tuple]],
                    query_id: str) -> dict:
    """`model_robustness` over one task's grid of answers."""
    return model_robustness(grid_results(variants, answers, scores, query_id))
