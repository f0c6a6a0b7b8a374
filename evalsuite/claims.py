"""Judge the seed's claims against measured numbers: each claim gets its evidence, its rule and a verdict.

Verdicts are `held`, `did not hold`, `inconclusive` (the numbers cannot decide it) or `not measurable` (a number the
claim needs is missing). Every claim that compares scores goes through `_compared`: the paired bootstrap interval
of the difference over the queries both sides answered, and `evalsuite.stats.verdict` with the direction and margin
written here, fixed before any run (stats.py states the rule, the resamples and the minimum number of queries).
Claims about single measurements (loss trend, memory, adapter size, trainable share, speed) keep their thresholds.
Every claim dict carries: stage, claim, verdict, evidence (the numbers, the interval, n), rule (a sentence),
interval ([low, high] of the difference, or None where none applies), diff, n, generations, detectable (the
smallest difference these many queries could detect, stats.DETECTABLE_Z x the bootstrap standard error).
A new comparison is one `_compared` call on two `_per_query` dicts, e.g. a falling rate of wrong answers stated as
fact: `_compared(..., _per_query(res, s2, "factual", value=_stated_wrongly), _per_query(res, dpo, "factual",
value=_stated_wrongly), "decrease")`. The efficiency numbers come from trainers/efficiency.py, as in the Runs tab.

    result = judge_claims(report, run_ids, records, metrics, sizes)    # evalsuite/reproduce.py calls it
"""

from collections import defaultdict
from statistics import mean

from evalsuite import stats
from evalsuite.claims_html import NOT_MEASURABLE, render_claims_html, signed  # noqa: F401 (callers import it here)
from trainers import efficiency

# Claims of "no meaningful difference" ("similar performance to full fine-tuning", "quality similar", "knowledge
# preserved", "no chat intelligence yet"): a tenth of the [0, 1] score scale, chosen before any run was judged.
SIMILAR_MARGIN = stats.EQUIVALENCE_MARGIN
# reproduce's run names per method: the full fine-tuning reference is the Stage 2 run (the same data as the adapters)
REPRODUCE_RUNS = {"full": "stage2", "lora": "lora", "qlora": "qlora"}
METHOD_LABELS = {"full": "Full fine-tune", "lora": "LoRA", "qlora": "QLoRA"}


def _is_p0(row) -> bool:
    return row.get("variant") == "p0"


def _other_phrasing(row) -> bool:
    return row.get("variant_kind") == "paraphrase" and row.get("variant") != "p0"


def _is_paraphrase(row) -> bool:
    return row.get("variant_kind") == "paraphrase"


def _is_heldout_template(row) -> bool:
    return row.get("variant_kind") == "heldout_template"


def _row_score(row) -> float:
    return float(row["score"])


def _stated_wrongly(row) -> float:
    """1 for an answer that failed but said something (a wrong answer stated as fact), else 0."""
    return float(not row.get("passed") and bool((row.get("answer") or "").strip()))


def _per_query(results, model, category=None, where=None, value=_row_score) -> dict | None:
    """query id -> `value` of each matching scored row (its variants); None when nothing matches (a model or
    category not evaluated), which makes a claim that needs it not measurable."""
    if model is None:
        return None
    groups = defaultdict(list)
    for r in results:
        if (r.get("model") == model and r.get("score") is not None
                and (category is None or r.get("category") == category) and (where is None or where(r))):
            groups[r["query_id"]].append(value(r))
    return dict(groups) or None


def _worst(per_query: dict | None) -> dict | None:
    """Each query's worst variant: one number per query, so the bootstrap still resamples queries."""
    return None if per_query is None else {q: [min(v)] for q, v in per_query.items()}


def _score(results, model, category=None, where=None) -> float | None:
    """The mean over the matching rows (every variant counts), None when there are none."""
    found = stats.mean_interval(_per_query(results, model, category, where) or {})
    return found["score"]


def _fmt(value, digits=2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _interval_text(interval) -> str:
    return "no interval" if interval is None else f"95% CI [{signed(interval[0])}, {signed(interval[1])}]"


def _base(stage, claim, verdict, evidence, rule, **numbers) -> dict:
    keys = {"interval": None, "diff": None, "n": None, "generations": None, "detectable": None}
    return {"stage": stage, "claim": claim, "verdict": verdict, "evidence": evidence, "rule": rule,
            **keys, **numbers}


def _compared(stage: str, claim: str, what: str, labels: tuple[str, str], a: dict | None, b: dict | None,
              direction: str, margin: float | None = None, note: str = "") -> dict:
    """The one path of every claim that compares numbers: b - a (per query: `_per_query` dicts) paired over the
    queries both have, its 95% interval, and stats.decide's verdict under the fixed rule, stated in `rule`."""
    rule = stats.rule_text(direction, f"{labels[1]} - {labels[0]}", margin)
    extra = {"direction": direction, "margin": stats.default_margin(direction) if margin is None else margin}
    if a is None or b is None:
        shown = ", ".join(f"{label} {'n/a' if side is None else 'measured'}" for label, side in zip(labels, (a, b),
                                                                                                  strict=True))
        return _base(stage, claim, NOT_MEASURABLE, f"{what}: {shown}; a number is missing{note}", rule, n=0, **extra)
    d = stats.decide(a, b, direction, margin)
    if d["n"] == 0:
        return _base(stage, claim, NOT_MEASURABLE, f"{what}: {d['reason']}{note}", rule, n=0, **extra)
    evidence = (f"{what}: {labels[0]} {d['a']:.2f} -> {labels[1]} {d['b']:.2f}, difference {signed(d['diff'])} "
                f"({_interval_text(d['interval'])}), n={d['n']} queries ({d['generations']} generations in all)")
    if d["reason"]:
        evidence += f"; {d['reason']}"
    if d["verdict"] == stats.INCONCLUSIVE:
        evidence += (f"; with {d['n']} queries the smallest detectable difference is about {d['detectable']:.2f}"
                     if d["detectable"] is not None else "; no detectable difference can be stated from one query")
    return _base(stage, claim, d["verdict"], evidence + note, rule, interval=d["interval"], diff=d["diff"], n=d["n"],
                 generations=d["generations"], detectable=d["detectable"], **extra)


def _all_of(stage: str, claim: str, parts: list[dict]) -> dict:
    """A claim made of several comparisons that must all hold (an intersection-union test: each at 95%, no
    correction needed): held if all held, did not hold if any did not, else inconclusive (not measurable first).
    The interval and counts shown are those of the comparison that decided the verdict."""
    order = [NOT_MEASURABLE, stats.NOT_HELD, stats.INCONCLUSIVE, stats.HELD]
    deciding = min(parts, key=lambda p: order.index(p["verdict"]))
    return {**deciding, "stage": stage, "claim": claim, "evidence": "; ".join(p["evidence"] for p in parts),
            "rule": "held if every part holds, did not hold if any part does not, otherwise inconclusive. Each part: "
                    + " / ".join(dict.fromkeys(p["rule"] for p in parts)),
            "parts": [{k: p[k] for k in ("evidence", "verdict", "interval", "diff", "n", "detectable")}
                      for p in parts]}


def _claim(stage: str, claim: str, evidence: str, values: tuple, rule, rule_text: str, n=None) -> dict:
    """A claim about single measurements (no interval): `rule(*values)` decides (True / False / None for
    inconclusive) only when every value was measured; `rule_text` says what it checks."""
    if any(v is None for v in values):
        return _base(stage, claim, NOT_MEASURABLE, f"{evidence}; a number is missing", rule_text, n=n)
    found = rule(*values)
    verdict = stats.INCONCLUSIVE if found is None else stats.HELD if found else stats.NOT_HELD
    return _base(stage, claim, verdict, evidence, rule_text, n=n)


def _loss_claim(metrics: list[dict]) -> dict:
    losses = [m["loss"] for m in metrics if m.get("loss") is not None]
    rule = ("held if the mean loss of the last quarter of logged steps is below that of the first quarter; "
            "inconclusive with fewer than 4 logged steps; one run, no interval")
    if not losses:  # the missing value makes it not measurable
        return _claim("Stage 1", "Loss decreases smoothly", "no logged loss", (None,), None, rule, n=0)
    if len(losses) < 4:  # measured, but too few steps to call a trend: inconclusive
        return _claim("Stage 1", "Loss decreases smoothly", f"only {len(losses)} logged steps", (), lambda: None,
                      rule, n=len(losses))
    quarter = max(1, len(losses) // 4)
    first, last = mean(losses[:quarter]), mean(losses[-quarter:])
    return _claim("Stage 1", "Loss decreases smoothly", f"mean loss of first quarter {first:.3f} -> last quarter "
                  f"{last:.3f} over {len(losses)} steps", (first, last), lambda a, b: b < a, rule, n=len(losses))


def _hallucination_claim(results, s2) -> dict:
    wrong = _per_query(results, s2, "factual", value=_stated_wrongly)
    count = None if wrong is None else int(sum(map(sum, wrong.values())))
    total = 0 if wrong is None else sum(map(len, wrong.values()))
    return _claim("Stage 2", "May still hallucinate",
                  f"stage 2 answers {_fmt(count, 0)} of {total} factual variants ({len(wrong or {})} queries) wrongly "
                  f"(a wrong answer stated as fact)", (count,), lambda k: k > 0,
                  "held if any factual answer is a wrong answer stated as fact; a count, no interval",
                  n=len(wrong or {}))


def stage_claims(report: dict, ids: dict, metrics: dict) -> list[dict]:
    res, rob = report.get("results") or [], report.get("robustness") or {}
    s1, s2, lora, base = ids.get("stage1"), ids.get("stage2"), ids.get("lora"), "base"

    def flips(model):  # supporting number only: the verdict uses the scores
        return _fmt((rob.get(model, {}).get("paraphrase") or {}).get("flip_rate"))

    heldout = (f"held-out templates (not part of the verdict): stage 1 "
               f"{_fmt(_score(res, s1, where=_is_heldout_template))}, stage 2 "
               f"{_fmt(_score(res, s2, where=_is_heldout_template))}")
    return [
        _loss_claim(metrics.get("stage1") or []),
        _compared("Stage 1", "Outputs are more task-correct", "trained-phrasing (p0) accuracy on held-out paraphrase "
                  "items", ("base", "stage 1"), _per_query(res, base, "paraphrase", _is_p0),
                  _per_query(res, s1, "paraphrase", _is_p0), "increase"),
        _compared("Stage 1", "No chat intelligence yet", "instruction-following (verifiable constraints)",
                  ("base", "stage 1"), _per_query(res, base, "instruction_following"),
                  _per_query(res, s1, "instruction_following"), "not_above", SIMILAR_MARGIN),
        _compared("Stage 1", "May overfit to specific phrasings", "stage 1 on the paraphrase category",
                  ("other phrasings", "trained phrasing (p0)"), _per_query(res, s1, "paraphrase", _other_phrasing),
                  _per_query(res, s1, "paraphrase", _is_p0), "increase",
                  note=f"; paraphrase flip rate (not part of the verdict): stage 1 {flips(s1)}, stage 2 {flips(s2)}"),
        _compared("Stage 2", "Same task works across multiple phrasings", "worst score over a query's phrasings, "
                  "every category", ("stage 1", "stage 2"), _worst(_per_query(res, s1, where=_is_paraphrase)),
                  _worst(_per_query(res, s2, where=_is_paraphrase)), "increase", note=f"; {heldout}"),
        _compared("Stage 2", "General instruction-following improves", "instruction-following", ("base", "stage 2"),
                  _per_query(res, base, "instruction_following"), _per_query(res, s2, "instruction_following"),
                  "increase",
                  note=f"; stage 1 (not part of the verdict) {_fmt(_score(res, s1, 'instruction_following'))}"),
        _hallucination_claim(res, s2),
        _compared("Stage 3", "Similar performance to full fine-tuning", "mean score over the suite",
                  ("stage 2 (full)", "LoRA"), _per_query(res, s2), _per_query(res, lora), "similar", SIMILAR_MARGIN),
        _compared("Stage 3", "Base model knowledge preserved", "factual", ("base", "LoRA"),
                  _per_query(res, base, "factual"), _per_query(res, lora, "factual"), "not_below", SIMILAR_MARGIN,
                  note=f"; full stage 2 (not part of the verdict) {_fmt(_score(res, s2, 'factual'))}"),
        _preference_claim(res, s2, ids.get("dpo")),
    ]


def _preference_claim(results, s2, dpo) -> dict:
    """The seed's "needs RLHF for full fix" of Stage 2's hallucination, judged with Stage 4 (DPO on the Stage 2 run):
    the share of factual answers that are wrong answers stated as fact (counted as the Stage 2 claim counts them),
    per query, paired between the two, claimed to fall, and the factual score claimed not to fall with it. The second
    part was added after the embedded-base run of 2026-12-02, where DPO answered every factual query with nothing and
    the first part alone held (0.74 -> 0.00): a blank answer states no wrong fact, and no right one either."""
    stage, claim, labels = "Stage 4", "Preference tuning (DPO) makes fewer wrong answers stated as fact", \
        ("stage 2", "DPO on stage 2")
    return _all_of(stage, claim, [
        _compared(stage, claim, "factual wrong-answer rate (wrong answers stated as fact)", labels,
                  _per_query(results, s2, "factual", value=_stated_wrongly),
                  _per_query(results, dpo, "factual", value=_stated_wrongly), "decrease"),
        _compared(stage, claim, "factual score (fewer wrong answers, not fewer answers)", labels,
                  _per_query(results, s2, "factual"), _per_query(results, dpo, "factual"), "not_below",
                  SIMILAR_MARGIN)])


def efficiency_rows(records: dict, sizes: dict, report: dict, ids: dict) -> tuple[list[dict], str]:
    """The seed's efficiency table from trainers.efficiency (full = the Stage 2 run), each row with its mean suite
    score, that score's 95% interval over queries and its n; and why the runs cannot be compared ("" when they
    can)."""
    by_method = {m: records.get(name) for m, name in REPRODUCE_RUNS.items()}
    try:
        rows, problem = efficiency.efficiency_rows(by_method, {m: sizes.get(n) for m, n in REPRODUCE_RUNS.items()}), ""
    except ValueError as err:  # other base model or data: a ratio would compare nothing
        rows, problem = dict.fromkeys(efficiency.METHODS), str(err)
    results = report.get("results") or []
    out = []
    for m, name in REPRODUCE_RUNS.items():
        quality = stats.mean_interval(_per_query(results, ids.get(name)) or {})
        interval = None if quality["ci_low"] is None else [quality["ci_low"], quality["ci_high"]]
        out.append({**(rows[m] or {}), "method": METHOD_LABELS[m], "quality": quality["score"],
                    "quality_interval": interval, "quality_n": quality["n"]})
    return out, problem


def efficiency_claims(rows: list[dict], problem: str = "", results: list | None = None,
                      ids: dict | None = None) -> list[dict]:
    full, lora, qlora = ({k: r.get(k) for k in ("peak_memory_mb", "memory_vs_full", "trainable_pct",
                                                "tokens_per_second", "speed_vs_full", "artifact_mb")}
                         for r in rows)
    note, results, ids = f" ({problem})" if problem else "", results or [], ids or {}
    one_run = "; one run per method, no interval"

    def pct(value):
        return "n/a" if value is None else f"{100 * value:.0f}%"

    def quality(name, label):
        return _compared("Efficiency table", "Quality", f"mean suite score, {label}", ("full", label),
                         _per_query(results, ids.get("stage2")), _per_query(results, ids.get(name)), "similar",
                         SIMILAR_MARGIN, note)

    return [
        _claim("Stage 3", "Memory usage significantly reduced",
               f"peak process memory: full {_fmt(full['peak_memory_mb'], 0)} MB, LoRA "
               f"{_fmt(lora['peak_memory_mb'], 0)} MB ({pct(lora['memory_vs_full'])}), QLoRA "
               f"{_fmt(qlora['peak_memory_mb'], 0)} MB ({pct(qlora['memory_vs_full'])}); the seed's table says ~10% "
               f"and ~5%{note}", (lora["memory_vs_full"], qlora["memory_vs_full"]), lambda a, b: a < 0.75 and b < 0.75,
               "held if LoRA's and QLoRA's peak memory are both below 75% of full fine-tuning's" + one_run),
        _claim("Stage 3", "Tiny adapter files for deployment",
               f"artifact on disk: full {_fmt(full['artifact_mb'], 1)} MB, LoRA {_fmt(lora['artifact_mb'], 1)} MB"
               f"{note}", (full["artifact_mb"], lora["artifact_mb"]), lambda f, a: a < 0.1 * f,
               "held if the LoRA adapter is under 10% of the full checkpoint's size on disk" + one_run),
        _claim("Efficiency table", "Trainable params ~2% (LoRA, QLoRA)",
               f"LoRA {_fmt(lora['trainable_pct'])}%, QLoRA {_fmt(qlora['trainable_pct'])}% of all parameters{note}",
               (lora["trainable_pct"], qlora["trainable_pct"]), lambda a, b: 0.5 <= a <= 5 and 0.5 <= b <= 5,
               "held if both trainable shares are within 0.5-5% of all parameters; counted, no interval"),
        _claim("Efficiency table", "Training speed: LoRA and QLoRA fast, full slow",
               f"tokens/s: full {_fmt(full['tokens_per_second'], 0)}, LoRA {_fmt(lora['tokens_per_second'], 0)} "
               f"({_fmt(lora['speed_vs_full'])}x), QLoRA {_fmt(qlora['tokens_per_second'], 0)} "
               f"({_fmt(qlora['speed_vs_full'])}x){note}", (lora["speed_vs_full"], qlora["speed_vs_full"]),
               lambda a, b: a > 1 and b > 1, "held if LoRA and QLoRA both train more tokens/s than full" + one_run),
        _all_of("Efficiency table", "Quality: LoRA and QLoRA similar to full",
                [quality("lora", "LoRA"), quality("qlora", "QLoRA")]),
    ]


def judge_claims(report: dict, ids: dict, records: dict, metrics: dict, sizes: dict) -> dict:
    """Every claim with its evidence, rule and verdict: held, did not hold, inconclusive, or not measurable (a
    number it needs is missing: a run, a record field or an evaluated category)."""
    rows, problem = efficiency_rows(records, sizes, report, ids)
    return {"claims": stage_claims(report, ids, metrics)
            + efficiency_claims(rows, problem, report.get("results") or [], ids), "efficiency": rows}

