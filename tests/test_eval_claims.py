"""The seed's claims judged on hand-built results (no training, no model): a clear win holds, a clear loss does not,
an exact tie refutes a claimed improvement, too few queries are inconclusive (stating what they could detect), every
comparison carries its paired 95% interval, rule and n, and a missing number (None in a record, a category never
evaluated, a run that is absent) makes exactly the claims that need it not measurable.

    python -m pytest -q tests/test_eval_claims.py
"""

import copy
import json
import re

import pytest

from evalsuite import stats
from evalsuite.claims import SIMILAR_MARGIN, judge_claims, render_claims_html

IDS = {"stage1": "s1", "stage2": "s2", "lora": "lo", "qlora": "ql"}
DATA = "assets/datasets/stage2_instruction.jsonl"
N = 12  # queries per category: above stats.MIN_QUERIES, few enough that an interval has width
WOBBLE = [-1.0, -0.33, 0.33, 1.0]  # per-query scatter, so intervals are not points


def rows(model, category, scores, variant="p0", kind="paraphrase", answer="something"):
    return [{"model": model, "query_id": f"{category}{i}", "category": category, "variant": variant,
             "variant_kind": kind, "score": s, "passed": s == 1.0, "answer": answer} for i, s in enumerate(scores)]


def around(level, width=0.1, phase=0, n=N) -> list[float]:
    """n per-query scores scattered ±width around `level`; another phase scatters other queries up."""
    return [min(1.0, max(0.0, level + width * WOBBLE[(i + phase) % 4])) for i in range(n)]


def passes(k, n=N) -> list[float]:
    """The first k of n queries right (1.0), the rest wrong (0.0)."""
    return [1.0] * k + [0.0] * (n - k)


# model -> trained phrasing (p0) and another phrasing (p1) of the paraphrase items, instruction following, factual
# (queries right of 12), and a phase for its scatter
LEVELS = {"base": (0.2, 0.2, 0.30, 10, 0), "s1": (0.8, 0.3, 0.31, 8, 1), "s2": (0.7, 0.7, 0.90, 7, 2),
          "lo": (0.7, 0.7, 0.90, 4, 2), "ql": (0.7, 0.7, 0.90, 7, 2)}


def build_report(levels=None) -> dict:
    results = []
    for model, (p0, others, instruction, factual, phase) in (levels or LEVELS).items():
        results += rows(model, "paraphrase", around(p0, phase=phase))
        results += rows(model, "paraphrase", around(others, phase=phase + 1), variant="p1")
        results += rows(model, "paraphrase", [0.5] * N, variant="tpl:inst_tags", kind="heldout_template")
        results += rows(model, "instruction_following", around(instruction, width=0.02, phase=phase))
        results += rows(model, "factual", passes(factual))
    robustness = {"s1": {"paraphrase": {"flip_rate": 0.5, "worst": 0.3}},
                  "s2": {"paraphrase": {"flip_rate": 0.1, "worst": 0.6}}}
    return {"results": results, "robustness": robustness}


def build_records() -> dict:
    def run(run_id, method, memory, trainable, speed):
        return {"id": run_id, "method": method, "base_model": "tiny", "dataset": DATA, "status": "completed",
                "peak_memory_mb": memory, "trainable_params": trainable, "total_params": 1_000_000,
                "tokens_per_second": speed, "final_loss": 1.0}

    return {"stage1": run("s1", "full", 1000.0, 1_000_000, 100.0),
            "stage2": run("s2", "full", 1000.0, 1_000_000, 100.0),
            "lora": run("lo", "lora", 500.0, 20_000, 250.0), "qlora": run("ql", "qlora", 300.0, 20_000, 150.0)}


LOSSES = {"stage1": [{"step": i, "loss": 3.0 - 0.25 * i} for i in range(8)]}
SIZES = {"stage1": 500.0, "stage2": 500.0, "lora": 18.0, "qlora": 18.0}


def judged(report=None, records=None, metrics=None, sizes=None, ids=None) -> dict:
    result = judge_claims(report or build_report(), ids or IDS, records or build_records(), metrics or LOSSES,
                          sizes or SIZES)
    page = render_claims_html({**result, "run_ids": IDS, "seconds": 1.0})  # renders whatever is missing
    assert all(c["claim"] in page and c["verdict"] in page for c in result["claims"])
    assert json.loads(json.dumps(result, allow_nan=False)) == result  # claims.json holds exactly this
    return {c["claim"]: c for c in result["claims"]}


def verdicts(**kwargs) -> dict:
    return {name: c["verdict"] for name, c in judged(**kwargs).items()}


COMPARATIVE = ("Outputs are more task-correct", "No chat intelligence yet", "May overfit to specific phrasings",
               "Same task works across multiple phrasings", "General instruction-following improves",
               "Similar performance to full fine-tuning", "Base model knowledge preserved",
               "Quality: LoRA and QLoRA similar to full")


def test_clear_wins_hold_and_clear_losses_do_not():
    v = verdicts()
    assert v["Loss decreases smoothly"] == "held"
    assert v["Outputs are more task-correct"] == "held"  # trained phrasing 0.2 -> 0.8 on the same 12 queries
    assert v["May overfit to specific phrasings"] == "held"  # 0.8 on the trained phrasing, 0.3 on others
    assert v["Same task works across multiple phrasings"] == "held"  # worst case per query rises
    assert v["General instruction-following improves"] == "held"  # 0.30 -> 0.90
    assert v["May still hallucinate"] == "held"  # 5 of 12 factual answers wrong
    assert v["Memory usage significantly reduced"] == "held"  # 50% and 30% of full
    assert v["Tiny adapter files for deployment"] == "held"  # 18 MB vs 500 MB
    assert v["Trainable params ~2% (LoRA, QLoRA)"] == "held"  # 2.0%
    assert v["Training speed: LoRA and QLoRA fast, full slow"] == "held"  # 2.5x and 1.5x
    assert v["Base model knowledge preserved"] == "did not hold"  # factual 10 -> 4 of 12: wholly below -0.10
    assert v["No chat intelligence yet"] == "held"  # 0.30 -> 0.31: the interval lies below +0.10


def test_every_comparison_carries_its_interval_rule_and_counts():
    claims = judged()
    for name in COMPARATIVE:
        c = claims[name]
        low, high = c["interval"]
        assert low <= c["diff"] <= high and c["n"] >= stats.MIN_QUERIES and c["generations"] >= 2 * c["n"]
        assert c["detectable"] >= 0
        assert "95% paired bootstrap interval" in c["rule"] and "at least 6 paired queries" in c["rule"]
        assert "95% CI [" in c["evidence"] and f"n={c['n']} queries" in c["evidence"]
    for c in claims.values():  # single measurements get the same keys, with no interval
        assert {"stage", "claim", "verdict", "evidence", "rule", "interval", "n", "detectable"} <= set(c)
        assert c["rule"]
    assert claims["Memory usage significantly reduced"]["interval"] is None
    gain = claims["Outputs are more task-correct"]
    assert gain["diff"] == pytest.approx(0.6) and gain["interval"][0] > 0 and gain["n"] == 12
    assert "base 0.20 -> stage 1 0.80, difference +0.60 (95% CI [+0.5" in gain["evidence"]
    assert "interval of stage 1 - base lies above 0" in gain["rule"] and "below +0.05" in gain["rule"]
    assert f"±{SIMILAR_MARGIN:.2f}" in claims["Similar performance to full fine-tuning"]["rule"]


def test_an_exact_tie_refutes_a_claimed_improvement():
    report = build_report({**LEVELS, "s2": (0.7, 0.7, 0.30, 7, 0), "s1": (0.2, 0.3, 0.31, 8, 0)})
    c = judged(report=report)
    tie = c["General instruction-following improves"]  # stage 2 scores exactly the base's, query for query
    assert tie["interval"] == [0.0, 0.0] and tie["verdict"] == "did not hold"
    assert c["Outputs are more task-correct"]["verdict"] == "did not hold"  # stage 1's p0 equals the base's
    assert c["Loss decreases smoothly"]["verdict"] == "held"  # untouched claims keep their verdicts


def test_a_noisy_tie_is_inconclusive_and_says_what_could_be_detected():
    report = build_report()
    for r in report["results"]:  # stage 1's trained phrasing no better than the base's, other queries up
        if r["category"] == "paraphrase" and r["variant"] == "p0" and r["model"] == "s1":
            r["score"] = around(0.2, width=0.2, phase=1)[int(re.search(r"\d+$", r["query_id"]).group())]
    c = judged(report=report)["Outputs are more task-correct"]
    assert c["interval"][0] < 0 < stats.MIN_EFFECT < c["interval"][1] and c["verdict"] == "inconclusive"
    assert f"smallest detectable difference is about {c['detectable']:.2f}" in c["evidence"]


def test_too_few_queries_are_inconclusive_with_the_detectable_effect_stated():
    report = build_report()
    # 4 queries per category, below stats.MIN_QUERIES
    report["results"] = [r for r in report["results"] if int(re.search(r"\d+$", r["query_id"]).group()) < 4]
    c = judged(report=report)
    for name in ("Outputs are more task-correct", "General instruction-following improves",
                 "May overfit to specific phrasings"):  # clear wins on 12 queries, undecided on 4
        assert c[name]["verdict"] == "inconclusive" and c[name]["n"] == 4
        assert "too few queries (n=4; a verdict needs at least 6)" in c[name]["evidence"]
        assert c[name]["interval"] is not None and "smallest detectable difference is about" in c[name]["evidence"]


def test_similar_to_full_fine_tuning_both_ways():
    same = build_report({**LEVELS, "lo": LEVELS["s2"]})
    assert verdicts(report=same)["Similar performance to full fine-tuning"] == "held"  # the interval is [0, 0]
    assert verdicts(report=same)["Quality: LoRA and QLoRA similar to full"] == "held"  # both parts held
    worse = build_report({**LEVELS, "lo": (0.2, 0.2, 0.30, 1, 0)})
    c = judged(report=worse)
    assert c["Similar performance to full fine-tuning"]["interval"][1] < -SIMILAR_MARGIN
    assert c["Similar performance to full fine-tuning"]["verdict"] == "did not hold"
    quality = c["Quality: LoRA and QLoRA similar to full"]
    assert quality["verdict"] == "did not hold"
    assert [p["verdict"] for p in quality["parts"]] == ["did not hold", "held"]
    assert quality["interval"] == c["Similar performance to full fine-tuning"]["interval"]  # the deciding part
    assert verdicts()["Similar performance to full fine-tuning"] == "inconclusive"  # -0.05, interval to -0.12


def test_claims_html_shows_each_interval():
    result = judge_claims(build_report(), IDS, build_records(), LOSSES, SIZES)
    page = render_claims_html({**result, "run_ids": IDS, "seconds": 1.0})
    assert "difference [95% interval]" in page and page.count("<svg") == len(COMPARATIVE)
    assert "+0.60 [+0.53, +0.67]" in page  # Outputs are more task-correct
    assert "(n=36)" in page  # the efficiency table's quality with its queries


def test_none_in_a_record_makes_only_the_claims_that_need_it_not_measurable():
    records = build_records()
    records["qlora"]["peak_memory_mb"] = None
    records["lora"]["tokens_per_second"] = None
    result = judge_claims(build_report(), IDS, records, LOSSES, SIZES)
    by_claim = {c["claim"]: c for c in result["claims"]}
    assert by_claim["Memory usage significantly reduced"]["verdict"] == "not measurable"
    assert "QLoRA n/a MB" in by_claim["Memory usage significantly reduced"]["evidence"]
    assert by_claim["Training speed: LoRA and QLoRA fast, full slow"]["verdict"] == "not measurable"
    assert by_claim["Tiny adapter files for deployment"]["verdict"] == "held"
    assert by_claim["Trainable params ~2% (LoRA, QLoRA)"]["verdict"] == "held"
    qlora = next(r for r in result["efficiency"] if r["method"] == "QLoRA")
    assert qlora["peak_memory_mb"] is None and qlora["memory_vs_full"] is None
    assert qlora["speed_vs_full"] == pytest.approx(1.5)


def test_a_missing_category_or_run_is_not_measurable():
    report = build_report()
    report["results"] = [r for r in report["results"] if r["category"] != "factual"]
    v = verdicts(report=report)
    assert v["May still hallucinate"] == v["Base model knowledge preserved"] == "not measurable"
    assert v["General instruction-following improves"] == "held"

    records, sizes = copy.deepcopy(build_records()), dict(SIZES)
    del records["qlora"], sizes["qlora"]
    v = verdicts(records=records, sizes=sizes, ids={k: i for k, i in IDS.items() if k != "qlora"})
    assert v["Memory usage significantly reduced"] == "not measurable"
    assert v["Quality: LoRA and QLoRA similar to full"] == "not measurable"
    assert v["Tiny adapter files for deployment"] == "held"  # full vs LoRA only

    assert verdicts(metrics={"stage1": [{"step": 1, "loss": None}]})["Loss decreases smoothly"] == "not measurable"


def test_runs_on_other_data_are_not_compared():
    records = build_records()
    records["lora"]["dataset"] = "assets/datasets/stage1_sft.jsonl"
    result = judge_claims(build_report(), IDS, records, LOSSES, SIZES)
    memory = next(c for c in result["claims"] if c["claim"] == "Memory usage significantly reduced")
    assert memory["verdict"] == "not measurable" and "not comparable" in memory["evidence"]
    assert all(r.get("memory_vs_full") is None for r in result["efficiency"])


DPO_CLAIM = "Preference tuning (DPO) makes fewer wrong answers stated as fact"


def with_dpo(factual: list[float], answer: str = "something") -> tuple[dict, dict]:
    """The report with a DPO run ("dp", on the Stage 2 run) answering the factual queries with these scores; stage 2
    answers 7 of 12 right, so 5 of 12 are wrong answers stated as fact."""
    report = build_report()
    report["results"] += rows("dp", "factual", factual, answer=answer)
    return report, {**IDS, "dpo": "dp"}


def dpo_claim(report: dict, ids: dict) -> dict:
    result = judge_claims(report, ids, build_records(), LOSSES, SIZES)
    assert render_claims_html({**result, "run_ids": ids, "seconds": 1.0})
    return next(c for c in result["claims"] if c["claim"] == DPO_CLAIM)


def test_dpo_judges_the_stage2_hallucination_by_its_factual_wrong_answer_rate():
    held = dpo_claim(*with_dpo(passes(12)))  # every factual answer right: the 5 wrong ones are gone
    assert held["stage"] == "Stage 4" and held["verdict"] == "held" and held["n"] == N
    assert "stage 2 0.42 -> DPO on stage 2 0.00, difference -0.42" in held["evidence"]
    assert held["interval"][1] < 0 and "not fewer answers): stage 2 0.58 -> DPO on stage 2 1.00" in held["evidence"]
    assert [part["verdict"] for part in held["parts"]] == ["held", "held"]
    worse = dpo_claim(*with_dpo(passes(0)))
    assert worse["verdict"] == "did not hold" and "stage 2 0.42 -> DPO on stage 2 1.00" in worse["evidence"]
    assert dpo_claim(*with_dpo(passes(7)))["verdict"] == "did not hold"  # the same answers: an exact tie refutes it
    # two wrong answers fixed, two right ones broken: no change on average, too noisy to call either way
    mixed = [0.0, 0.0] + [1.0] * 5 + [1.0, 1.0] + [0.0] * 3
    assert dpo_claim(*with_dpo(mixed))["verdict"] == "inconclusive"
    # a blank answer states no wrong fact (the rate falls), but no right one either: silence is no fix
    silent = dpo_claim(*with_dpo(passes(0), answer=" "))
    assert [part["verdict"] for part in silent["parts"]] == ["held", "did not hold"]
    assert silent["verdict"] == "did not hold" and "0.58 -> DPO on stage 2 0.00" in silent["evidence"]


def test_the_dpo_claim_is_not_measurable_without_the_dpo_run_or_its_factual_answers():
    missing = dpo_claim(build_report(), IDS)  # no dpo phase ran (the lesson's preset)
    assert missing["verdict"] == "not measurable" and "DPO on stage 2 n/a" in missing["evidence"]
    report, ids = with_dpo(passes(12))
    report["results"] = [r for r in report["results"] if not (r["model"] == "s2" and r["category"] == "factual")]
    assert dpo_claim(report, ids)["verdict"] == "not measurable"  # nothing to compare it with
    assert verdicts(report=report, ids=ids)["Loss decreases smoothly"] == "held"  # the others keep theirs
