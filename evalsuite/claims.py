"""Judge the seed's claims against measured numbers: each claim gets its evidence and a verdict.

Verdicts are `held`, `did not hold`, or `inconclusive` (the numbers cannot decide it, e.g. a tie within noise).
The thresholds are stated in the evidence text so a reader can disagree with them.
"""

import html
from statistics import mean

NOISE = 0.02  # score differences smaller than this are treated as ties


def _score(results, model, category=None, variant=None, kind=None) -> float | None:
    rows = [r for r in results if r["model"] == model and (category is None or r["category"] == category)
            and (variant is None or r["variant"] == variant) and (kind is None or r["variant_kind"] == kind)]
    return mean(r["score"] for r in rows) if rows else None


def _wrong(results, model, category) -> int:
    return sum(not r["passed"] and bool(r["answer"].strip()) for r in results
               if r["model"] == model and r["category"] == category)


def _verdict(condition: bool | None) -> str:
    return "inconclusive" if condition is None else "held" if condition else "did not hold"


def _fmt(value, digits=2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _loss_claim(losses: list[float]) -> tuple[str, bool | None]:
    if len(losses) < 4:
        return f"only {len(losses)} logged steps", None
    quarter = max(1, len(losses) // 4)
    first, last = mean(losses[:quarter]), mean(losses[-quarter:])
    return f"mean loss of first quarter {first:.3f} -> last quarter {last:.3f} over {len(losses)} steps", last < first


def stage_claims(report: dict, ids: dict, metrics: dict) -> list[dict]:
    res, rob = report["results"], report["robustness"]
    s1, s2, lora, base = ids["stage1"], ids["stage2"], ids["lora"], "base"

    def para(model, key):
        return (rob.get(model, {}).get("paraphrase") or {}).get(key)

    loss_text, loss_ok = _loss_claim([m["loss"] for m in metrics["stage1"]])
    t_base, t_s1 = _score(res, base, "paraphrase", "p0"), _score(res, s1, "paraphrase", "p0")
    if_base, if_s1, if_s2 = (_score(res, m, "instruction_following") for m in (base, s1, s2))
    p0_s1 = t_s1
    others_s1 = _score(res, s1, "paraphrase", kind="paraphrase")
    claims = [
        ("Stage 1", "Loss decreases smoothly", loss_text, loss_ok),
        ("Stage 1", "Outputs are more task-correct",
         f"trained-phrasing accuracy on held-out items: base {_fmt(t_base)} -> stage 1 {_fmt(t_s1)}",
         None if abs(t_s1 - t_base) < NOISE else t_s1 > t_base),
        ("Stage 1", "No chat intelligence yet",
         f"instruction-following (verifiable constraints): base {_fmt(if_base)}, stage 1 {_fmt(if_s1)}; holds if "
         f"stage 1 does not beat the base by more than {NOISE}", if_s1 <= if_base + NOISE),
        ("Stage 1", "May overfit to specific phrasings",
         f"stage 1: trained phrasing {_fmt(p0_s1)} vs all phrasings {_fmt(others_s1)}; paraphrase flip rate "
         f"stage 1 {_fmt(para(s1, 'flip_rate'))} vs stage 2 {_fmt(para(s2, 'flip_rate'))}",
         p0_s1 > others_s1 + NOISE or (para(s1, "flip_rate") or 0) > (para(s2, "flip_rate") or 0) + NOISE),
        ("Stage 2", "Same task works across multiple phrasings",
         f"paraphrase category, worst-case over phrasings: stage 1 {_fmt(para(s1, 'worst'))} -> stage 2 "
         f"{_fmt(para(s2, 'worst'))}; held-out templates: stage 1 "
         f"{_fmt(_score(res, s1, 'paraphrase', kind='heldout_template'))} -> stage 2 "
         f"{_fmt(_score(res, s2, 'paraphrase', kind='heldout_template'))}",
         (para(s2, "worst") or 0) > (para(s1, "worst") or 0) + NOISE),
        ("Stage 2", "General instruction-following improves",
         f"instruction-following: base {_fmt(if_base)}, stage 1 {_fmt(if_s1)}, stage 2 {_fmt(if_s2)}",
         None if abs(if_s2 - if_base) < NOISE else if_s2 > if_base),
        ("Stage 2", "May still hallucinate",
         f"stage 2 answers {_wrong(res, s2, 'factual')} of the factual variants wrongly (a wrong answer stated as "
         f"fact); holds if any is wrong", _wrong(res, s2, "factual") > 0),
    ]
    f_base, f_s2, f_lora = (_score(res, m, "factual") for m in (base, s2, lora))
    all_s2, all_lora = _score(res, s2), _score(res, lora)
    claims += [
        ("Stage 3", "Similar performance to full fine-tuning",
         f"mean score over the suite: stage 2 (full) {_fmt(all_s2)}, LoRA {_fmt(all_lora)}; holds within 0.05",
         abs(all_lora - all_s2) <= 0.05),
        ("Stage 3", "Base model knowledge preserved",
         f"factual: base {_fmt(f_base)}, full stage 2 {_fmt(f_s2)}, LoRA {_fmt(f_lora)}; holds if LoRA stays within "
         f"0.05 of the base", f_lora >= f_base - 0.05),
    ]
    return [{"stage": st, "claim": c, "evidence": e, "verdict": _verdict(ok)} for st, c, e, ok in claims]


def efficiency_rows(records: dict, sizes: dict, report: dict, ids: dict) -> list[dict]:
    """The seed's efficiency table, measured: full (stage 2) = 100%."""
    full = records["stage2"]
    rows = []
    for name, label in (("stage2", "Full fine-tune"), ("lora", "LoRA"), ("qlora", "QLoRA")):
        r = records[name]
        rows.append({"method": label, "peak_memory_mb": r["peak_memory_mb"],
                     "memory_pct_of_full": 100 * r["peak_memory_mb"] / full["peak_memory_mb"],
                     "trainable_pct": 100 * r["trainable_params"] / r["total_params"],
                     "tokens_per_second": r["tokens_per_second"],
                     "speed_vs_full": r["tokens_per_second"] / full["tokens_per_second"],
                     "artifact_mb": sizes[name], "quality": _score(report["results"], ids[name])})
    return rows


def efficiency_claims(rows: list[dict]) -> list[dict]:
    full, lora, qlora = rows
    claims = [
        ("Stage 3", "Memory usage significantly reduced",
         f"peak process memory: full {full['peak_memory_mb']:.0f} MB, LoRA {lora['peak_memory_mb']:.0f} MB "
         f"({lora['memory_pct_of_full']:.0f}%), QLoRA {qlora['peak_memory_mb']:.0f} MB "
         f"({qlora['memory_pct_of_full']:.0f}%); the seed's table says ~10% and ~5%; holds if both are below 75%",
         lora["memory_pct_of_full"] < 75 and qlora["memory_pct_of_full"] < 75),
        ("Stage 3", "Tiny adapter files for deployment",
         f"artifact on disk: full {_fmt(full['artifact_mb'], 1)} MB, LoRA {_fmt(lora['artifact_mb'], 1)} MB",
         (lora["artifact_mb"] or 0) < 0.1 * (full["artifact_mb"] or 1)),
        ("Efficiency table", "Trainable params ~2% (LoRA, QLoRA)",
         f"LoRA {lora['trainable_pct']:.2f}%, QLoRA {qlora['trainable_pct']:.2f}% of all parameters; holds if both "
         f"are within 0.5-5%", all(0.5 <= r["trainable_pct"] <= 5 for r in (lora, qlora))),
        ("Efficiency table", "Training speed: LoRA and QLoRA fast, full slow",
         f"tokens/s: full {full['tokens_per_second']:.0f}, LoRA {lora['tokens_per_second']:.0f} "
         f"({lora['speed_vs_full']:.2f}x), QLoRA {qlora['tokens_per_second']:.0f} ({qlora['speed_vs_full']:.2f}x)",
         lora["speed_vs_full"] > 1 and qlora["speed_vs_full"] > 1),
        ("Efficiency table", "Quality: LoRA and QLoRA similar to full",
         f"mean suite score: full {_fmt(full['quality'])}, LoRA {_fmt(lora['quality'])}, QLoRA "
         f"{_fmt(qlora['quality'])}; holds within 0.05", all(abs(r["quality"] - full["quality"]) <= 0.05
                                                               for r in (lora, qlora))),
    ]
    return [{"stage": st, "claim": c, "evidence": e, "verdict": _verdict(ok)} for st, c, e, ok in claims]


def judge_claims(report: dict, ids: dict, records: dict, metrics: dict, sizes: dict) -> dict:
    rows = efficiency_rows(records, sizes, report, ids)
    return {"claims": stage_claims(report, ids, metrics) + efficiency_claims(rows), "efficiency": rows}


def render_claims_html(result: dict) -> str:
    colour = {"held": "#1a7f37", "did not hold": "#cf222e", "inconclusive": "#9a6700"}
    claim_rows = "".join(
        f"<tr><td>{html.escape(c['stage'])}</td><td>{html.escape(c['claim'])}</td>"
        f"<td style='color:{colour[c['verdict']]};font-weight:bold'>{c['verdict']}</td>"
        f"<td>{html.escape(c['evidence'])}</td></tr>" for c in result["claims"])
    eff_rows = "".join(
        f"<tr><td>{r['method']}</td><td>{r['peak_memory_mb']:.0f} MB ({r['memory_pct_of_full']:.0f}%)</td>"
        f"<td>{r['trainable_pct']:.2f}%</td><td>{r['tokens_per_second']:.0f} ({r['speed_vs_full']:.2f}x)</td>"
        f"<td>{_fmt(r['artifact_mb'], 1)} MB</td><td>{_fmt(r['quality'])}</td></tr>" for r in result["efficiency"])
    return (f"<!doctype html><meta charset='utf-8'><title>Seed claims, measured</title>"
            f"<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}td,th{{border:1px solid #ccc;"
            f"padding:4px 8px;vertical-align:top}}table{{border-collapse:collapse}}</style>"
            f"<h1>The seed's claims, measured</h1><p>Runs: {html.escape(str(result['run_ids']))}; "
            f"total time {result['seconds']:.0f} s. Full evaluation: <a href='eval/report.html'>eval/report.html</a>"
            f"</p><table><tr><th>stage</th><th>claim</th><th>verdict</th><th>evidence</th></tr>{claim_rows}</table>"
            f"<h2>Efficiency table, measured</h2><table><tr><th>method</th><th>peak memory</th><th>trainable</th>"
            f"<th>tokens/s</th><th>artifact</th><th>mean suite score</th></tr>{eff_rows}</table>")
