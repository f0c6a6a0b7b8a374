"""Judge the seed's claims against measured numbers: each claim gets its evidence and a verdict.

Verdicts are `held`, `did not hold`, `inconclusive` (the numbers cannot decide it, e.g. a tie within noise) or `not
measurable` (a number the claim needs is missing). The thresholds are stated in the evidence text so a reader can
disagree with them. The efficiency numbers come from trainers/efficiency.py, as in the Runs tab.

    result = judge_claims(report, run_ids, records, metrics, sizes)    # evalsuite/reproduce.py calls it
"""

import html
from statistics import mean

from trainers import efficiency

NOISE = 0.02  # score differences smaller than this are treated as ties
NOT_MEASURABLE = "not measurable"
# reproduce's run names per method: the full fine-tuning reference is the Stage 2 run (the same data as the adapters)
REPRODUCE_RUNS = {"full": "stage2", "lora": "lora", "qlora": "qlora"}
METHOD_LABELS = {"full": "Full fine-tune", "lora": "LoRA", "qlora": "QLoRA"}


def _score(results, model, category=None, variant=None, kind=None) -> float | None:
    """Mean score of the matching rows; None when there are none (a model or category not evaluated)."""
    scores = [r["score"] for r in results if r.get("model") == model and r.get("score") is not None
              and (category is None or r.get("category") == category)
              and (variant is None or r.get("variant") == variant) and (kind is None or r.get("variant_kind") == kind)]
    return mean(scores) if scores else None


def _wrong(results, model, category) -> int | None:
    """Answers that failed but said something (a wrong answer stated as fact); None without any answers."""
    rows = [r for r in results if r.get("model") == model and r.get("category") == category]
    return sum(not r.get("passed") and bool((r.get("answer") or "").strip()) for r in rows) if rows else None


def _wrong_rate(results, model, category) -> tuple[float | None, int | None, int]:
    """(share of the answers that are wrong answers stated as fact, how many, of how many); None without answers."""
    wrong, n = _wrong(results, model, category), sum(
        r.get("model") == model and r.get("category") == category for r in results)
    return (None if wrong is None else wrong / n), wrong, n


def _verdict(condition: bool | None) -> str:
    return "inconclusive" if condition is None else "held" if condition else "did not hold"


def _fmt(value, digits=2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _claim(stage: str, claim: str, evidence: str, values: tuple, rule) -> dict:
    """`rule(*values)` decides (True / False / None for a tie) only when every value was measured."""
    if any(v is None for v in values):
        return {"stage": stage, "claim": claim, "evidence": f"{evidence}; a number is missing",
                "verdict": NOT_MEASURABLE}
    return {"stage": stage, "claim": claim, "evidence": evidence, "verdict": _verdict(rule(*values))}


def _loss_claim(metrics: list[dict]) -> dict:
    losses = [m["loss"] for m in metrics if m.get("loss") is not None]
    if not losses:  # the missing value makes it not measurable
        return _claim("Stage 1", "Loss decreases smoothly", "no logged loss", (None,), None)
    if len(losses) < 4:  # measured, but too few steps to call a trend: inconclusive
        return _claim("Stage 1", "Loss decreases smoothly", f"only {len(losses)} logged steps", (), lambda: None)
    quarter = max(1, len(losses) // 4)
    first, last = mean(losses[:quarter]), mean(losses[-quarter:])
    return _claim("Stage 1", "Loss decreases smoothly", f"mean loss of first quarter {first:.3f} -> last quarter "
                  f"{last:.3f} over {len(losses)} steps", (first, last), lambda a, b: b < a)


def _unless_tie(a: float, b: float) -> bool | None:
    """b beats a, or None when they are within NOISE of each other."""
    return None if abs(b - a) < NOISE else b > a


def stage_claims(report: dict, ids: dict, metrics: dict) -> list[dict]:
    res, rob = report.get("results") or [], report.get("robustness") or {}
    s1, s2, lora, base = ids.get("stage1"), ids.get("stage2"), ids.get("lora"), "base"

    def para(model, key):
        return (rob.get(model, {}).get("paraphrase") or {}).get(key)

    t_base, t_s1 = _score(res, base, "paraphrase", "p0"), _score(res, s1, "paraphrase", "p0")
    if_base, if_s1, if_s2 = (_score(res, m, "instruction_following") for m in (base, s1, s2))
    others_s1 = _score(res, s1, "paraphrase", kind="paraphrase")
    flip_s1, flip_s2, worst_s1, worst_s2 = para(s1, "flip_rate"), para(s2, "flip_rate"), para(s1, "worst"), para(
        s2, "worst")
    wrong_s2 = _wrong(res, s2, "factual")
    f_base, f_s2, f_lora = (_score(res, m, "factual") for m in (base, s2, lora))
    all_s2, all_lora = _score(res, s2), _score(res, lora)
    return [
        _loss_claim(metrics.get("stage1") or []),
        _claim("Stage 1", "Outputs are more task-correct",
               f"trained-phrasing accuracy on held-out items: base {_fmt(t_base)} -> stage 1 {_fmt(t_s1)}",
               (t_base, t_s1), _unless_tie),
        _claim("Stage 1", "No chat intelligence yet",
               f"instruction-following (verifiable constraints): base {_fmt(if_base)}, stage 1 {_fmt(if_s1)}; holds "
               f"if stage 1 does not beat the base by more than {NOISE}", (if_base, if_s1),
               lambda b, s: s <= b + NOISE),
        _claim("Stage 1", "May overfit to specific phrasings",
               f"stage 1: trained phrasing {_fmt(t_s1)} vs all phrasings {_fmt(others_s1)}; paraphrase flip rate "
               f"stage 1 {_fmt(flip_s1)} vs stage 2 {_fmt(flip_s2)}", (t_s1, others_s1, flip_s1, flip_s2),
               lambda p0, others, f1, f2: p0 > others + NOISE or f1 > f2 + NOISE),
        _claim("Stage 2", "Same task works across multiple phrasings",
               f"paraphrase category, worst-case over phrasings: stage 1 {_fmt(worst_s1)} -> stage 2 "
               f"{_fmt(worst_s2)}; held-out templates: stage 1 "
               f"{_fmt(_score(res, s1, 'paraphrase', kind='heldout_template'))} -> stage 2 "
               f"{_fmt(_score(res, s2, 'paraphrase', kind='heldout_template'))}",
               (worst_s1, worst_s2), lambda w1, w2: w2 > w1 + NOISE),
        _claim("Stage 2", "General instruction-following improves",
               f"instruction-following: base {_fmt(if_base)}, stage 1 {_fmt(if_s1)}, stage 2 {_fmt(if_s2)}",
               (if_base, if_s2), _unless_tie),
        _claim("Stage 2", "May still hallucinate",
               f"stage 2 answers {wrong_s2 if wrong_s2 is not None else 'n/a'} of the factual variants wrongly (a "
               f"wrong answer stated as fact); holds if any is wrong", (wrong_s2,), lambda n: n > 0),
        _claim("Stage 3", "Similar performance to full fine-tuning",
               f"mean score over the suite: stage 2 (full) {_fmt(all_s2)}, LoRA {_fmt(all_lora)}; holds within 0.05",
               (all_s2, all_lora), lambda full, adapter: abs(adapter - full) <= 0.05),
        _claim("Stage 3", "Base model knowledge preserved",
               f"factual: base {_fmt(f_base)}, full stage 2 {_fmt(f_s2)}, LoRA {_fmt(f_lora)}; holds if LoRA stays "
               f"within 0.05 of the base", (f_base, f_lora), lambda b, adapter: adapter >= b - 0.05),
        _preference_claim(res, s2, ids.get("dpo")),
    ]


def _preference_claim(results, s2, dpo) -> dict:
    """The seed's "needs RLHF for full fix" of Stage 2's hallucination, judged with Stage 4 (DPO on the Stage 2 run):
    the factual wrong-answer rate, counted as the Stage 2 claim above counts it, before and after."""
    before, wrong_s2, n_s2 = _wrong_rate(results, s2, "factual")
    after, wrong_dpo, n_dpo = _wrong_rate(results, dpo, "factual")
    score_s2, score_dpo = _score(results, s2, "factual"), _score(results, dpo, "factual")

    def count(wrong, n):
        return "n/a" if wrong is None else f"{wrong} of {n}"

    return _claim("Stage 4", "Preference tuning (DPO) makes fewer wrong answers stated as fact",
                  f"factual wrong-answer rate (wrong answers stated as fact): stage 2 {_fmt(before)} "
                  f"({count(wrong_s2, n_s2)}) -> DPO on stage 2 {_fmt(after)} ({count(wrong_dpo, n_dpo)}); factual "
                  f"score {_fmt(score_s2)} -> {_fmt(score_dpo)}; holds if the rate falls by more than {NOISE}, does "
                  f"not if it rises by more, a tie within", (before, after),
                  lambda was, now: _unless_tie(now, was))  # was > now beyond NOISE: the rate fell


def efficiency_rows(records: dict, sizes: dict, report: dict, ids: dict) -> tuple[list[dict], str]:
    """The seed's efficiency table from trainers.efficiency (full = the Stage 2 run), each row with its mean suite
    score; and why the runs cannot be compared ("" when they can)."""
    by_method = {m: records.get(name) for m, name in REPRODUCE_RUNS.items()}
    try:
        rows, problem = efficiency.efficiency_rows(by_method, {m: sizes.get(n) for m, n in REPRODUCE_RUNS.items()}), ""
    except ValueError as err:  # other base model or data: a ratio would compare nothing
        rows, problem = dict.fromkeys(efficiency.METHODS), str(err)
    results = report.get("results") or []
    return [{**(rows[m] or {}), "method": METHOD_LABELS[m], "quality": _score(results, ids.get(name))}
            for m, name in REPRODUCE_RUNS.items()], problem


def efficiency_claims(rows: list[dict], problem: str = "") -> list[dict]:
    full, lora, qlora = ({k: r.get(k) for k in ("peak_memory_mb", "memory_vs_full", "trainable_pct",
                                                "tokens_per_second", "speed_vs_full", "artifact_mb", "quality")}
                         for r in rows)
    note = f" ({problem})" if problem else ""

    def pct(value):
        return "n/a" if value is None else f"{100 * value:.0f}%"

    return [
        _claim("Stage 3", "Memory usage significantly reduced",
               f"peak process memory: full {_fmt(full['peak_memory_mb'], 0)} MB, LoRA "
               f"{_fmt(lora['peak_memory_mb'], 0)} MB ({pct(lora['memory_vs_full'])}), QLoRA "
               f"{_fmt(qlora['peak_memory_mb'], 0)} MB ({pct(qlora['memory_vs_full'])}); the seed's table says ~10% "
               f"and ~5%; holds if both are below 75%{note}", (lora["memory_vs_full"], qlora["memory_vs_full"]),
               lambda a, b: a < 0.75 and b < 0.75),
        _claim("Stage 3", "Tiny adapter files for deployment",
               f"artifact on disk: full {_fmt(full['artifact_mb'], 1)} MB, LoRA {_fmt(lora['artifact_mb'], 1)} MB"
               f"{note}", (full["artifact_mb"], lora["artifact_mb"]), lambda f, a: a < 0.1 * f),
        _claim("Efficiency table", "Trainable params ~2% (LoRA, QLoRA)",
               f"LoRA {_fmt(lora['trainable_pct'])}%, QLoRA {_fmt(qlora['trainable_pct'])}% of all parameters; holds "
               f"if both are within 0.5-5%{note}", (lora["trainable_pct"], qlora["trainable_pct"]),
               lambda a, b: 0.5 <= a <= 5 and 0.5 <= b <= 5),
        _claim("Efficiency table", "Training speed: LoRA and QLoRA fast, full slow",
               f"tokens/s: full {_fmt(full['tokens_per_second'], 0)}, LoRA {_fmt(lora['tokens_per_second'], 0)} "
               f"({_fmt(lora['speed_vs_full'])}x), QLoRA {_fmt(qlora['tokens_per_second'], 0)} "
               f"({_fmt(qlora['speed_vs_full'])}x){note}", (lora["speed_vs_full"], qlora["speed_vs_full"]),
               lambda a, b: a > 1 and b > 1),
        _claim("Efficiency table", "Quality: LoRA and QLoRA similar to full",
               f"mean suite score: full {_fmt(full['quality'])}, LoRA {_fmt(lora['quality'])}, QLoRA "
               f"{_fmt(qlora['quality'])}; holds within 0.05{note}", (full["quality"], lora["quality"],
                                                                       qlora["quality"]),
               lambda f, a, b: abs(a - f) <= 0.05 and abs(b - f) <= 0.05),
    ]


def judge_claims(report: dict, ids: dict, records: dict, metrics: dict, sizes: dict) -> dict:
    """Every claim with its evidence and verdict: held, did not hold, inconclusive (a tie), or not measurable (a
    number it needs is missing: a run, a record field or an evaluated category)."""
    rows, problem = efficiency_rows(records, sizes, report, ids)
    return {"claims": stage_claims(report, ids, metrics) + efficiency_claims(rows, problem), "efficiency": rows}


def _efficiency_cells(r: dict) -> str:
    share = "n/a" if r.get("memory_vs_full") is None else f"{100 * r['memory_vs_full']:.0f}%"
    return (f"<tr><td>{r['method']}</td><td>{_fmt(r.get('peak_memory_mb'), 0)} MB ({share})</td>"
            f"<td>{_fmt(r.get('trainable_pct'))}%</td><td>{_fmt(r.get('tokens_per_second'), 0)} "
            f"({_fmt(r.get('speed_vs_full'))}x)</td><td>{_fmt(r.get('artifact_mb'), 1)} MB</td>"
            f"<td>{_fmt(r.get('quality'))}</td></tr>")


def render_claims_html(result: dict) -> str:
    colour = {"held": "#1a7f37", "did not hold": "#cf222e", "inconclusive": "#9a6700", NOT_MEASURABLE: "#57606a"}
    claim_rows = "".join(
        f"<tr><td>{html.escape(c['stage'])}</td><td>{html.escape(c['claim'])}</td>"
        f"<td style='color:{colour[c['verdict']]};font-weight:bold'>{c['verdict']}</td>"
        f"<td>{html.escape(c['evidence'])}</td></tr>" for c in result["claims"])
    eff_rows = "".join(_efficiency_cells(r) for r in result["efficiency"])
    return (f"<!doctype html><meta charset='utf-8'><title>Seed claims, measured</title>"
            f"<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}td,th{{border:1px solid #ccc;"
            f"padding:4px 8px;vertical-align:top}}table{{border-collapse:collapse}}</style>"
            f"<h1>The seed's claims, measured</h1><p>Runs: {html.escape(str(result['run_ids']))}; "
            f"total time {result['seconds']:.0f} s. Full evaluation: <a href='eval/report.html'>eval/report.html</a>"
            f"</p><table><tr><th>stage</th><th>claim</th><th>verdict</th><th>evidence</th></tr>{claim_rows}</table>"
            f"<h2>Efficiency table, measured (runs on the same base model and dataset; full = the Stage 2 run)</h2>"
            f"<table><tr><th>method</th><th>peak memory</th><th>trainable</th><th>tokens/s</th><th>artifact</th>"
            f"<th>mean suite score</th></tr>{eff_rows}</table>")
