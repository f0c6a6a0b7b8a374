"""The seed's claims judged on hand-built numbers (no training, no model): a clear win holds, a clear loss does not,
a tie is inconclusive, and a missing number (None in a record, a category never evaluated, a run that is absent)
makes exactly the claims that need it not measurable.

    python -m pytest -q tests/test_eval_claims.py
"""

import copy

import pytest

from evalsuite.claims import judge_claims, render_claims_html

IDS = {"stage1": "s1", "stage2": "s2", "lora": "lo", "qlora": "ql"}
DATA = "assets/datasets/stage2_instruction.jsonl"


def rows(model, category, scores, variant="p0", kind="paraphrase", answer="something"):
    return [{"model": model, "query_id": f"{category}{i}", "category": category, "variant": variant,
             "variant_kind": kind, "score": s, "passed": s == 1.0, "answer": answer} for i, s in enumerate(scores)]


def build_report() -> dict:
    results = []
    for model, p0, others, instruction, factual in (
            ("base", 0.2, 0.2, 0.30, 0.80), ("s1", 0.8, 0.3, 0.31, 0.60), ("s2", 0.7, 0.7, 0.90, 0.70),
            ("lo", 0.7, 0.7, 0.90, 0.40), ("ql", 0.7, 0.7, 0.90, 0.70)):
        results += rows(model, "paraphrase", [p0] * 4)
        results += rows(model, "paraphrase", [others] * 4, variant="p1")
        results += rows(model, "paraphrase", [0.5] * 2, variant="tpl:inst_tags", kind="heldout_template")
        results += rows(model, "instruction_following", [instruction] * 4)
        results += rows(model, "factual", [1.0, 0.0] if factual < 0.75 else [1.0, 1.0, 1.0, 0.0])
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


def verdicts(report=None, records=None, metrics=None, sizes=None, ids=None) -> dict:
    result = judge_claims(report or build_report(), ids or IDS, records or build_records(), metrics or LOSSES,
                          sizes or SIZES)
    assert render_claims_html({**result, "run_ids": IDS, "seconds": 1.0})  # renders whatever is missing
    return {c["claim"]: c["verdict"] for c in result["claims"]}


def test_clear_wins_hold_and_clear_losses_do_not():
    v = verdicts()
    assert v["Loss decreases smoothly"] == "held"
    assert v["Outputs are more task-correct"] == "held"  # trained phrasing 0.2 -> 0.8
    assert v["May overfit to specific phrasings"] == "held"  # 0.8 on the trained phrasing, 0.3 on others
    assert v["Same task works across multiple phrasings"] == "held"  # worst case 0.3 -> 0.6
    assert v["General instruction-following improves"] == "held"  # 0.30 -> 0.90
    assert v["Memory usage significantly reduced"] == "held"  # 50% and 30% of full
    assert v["Tiny adapter files for deployment"] == "held"  # 18 MB vs 500 MB
    assert v["Trainable params ~2% (LoRA, QLoRA)"] == "held"  # 2.0%
    assert v["Training speed: LoRA and QLoRA fast, full slow"] == "held"  # 2.5x and 1.5x
    assert v["Base model knowledge preserved"] == "did not hold"  # factual 0.75 -> 0.5 under LoRA
    assert v["No chat intelligence yet"] == "held"  # 0.30 -> 0.31, within noise of the base


def test_a_tie_is_inconclusive():
    report = build_report()
    for r in report["results"]:  # stage 2 follows instructions as well as the base, to within 0.01
        if r["category"] == "instruction_following" and r["model"] == "s2":
            r["score"] = 0.31
        if r["category"] == "paraphrase" and r["variant"] == "p0" and r["model"] == "s1":  # no better than the base
            r["score"] = 0.2
    v = verdicts(report=report)
    assert v["General instruction-following improves"] == "inconclusive"
    assert v["Outputs are more task-correct"] == "inconclusive"
    assert v["Loss decreases smoothly"] == "held"  # untouched claims keep their verdicts


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
    answers them [1.0, 0.0]: 1 of 2 wrong."""
    report = build_report()
    report["results"] += rows("dp", "factual", factual, answer=answer)
    return report, {**IDS, "dpo": "dp"}


def dpo_claim(report: dict, ids: dict) -> dict:
    result = judge_claims(report, ids, build_records(), LOSSES, SIZES)
    assert render_claims_html({**result, "run_ids": ids, "seconds": 1.0})
    return next(c for c in result["claims"] if c["claim"] == DPO_CLAIM)


def test_dpo_judges_the_stage2_hallucination_by_its_factual_wrong_answer_rate():
    held = dpo_claim(*with_dpo([1.0, 1.0]))
    assert held["stage"] == "Stage 4" and held["verdict"] == "held"
    assert "stage 2 0.50 (1 of 2) -> DPO on stage 2 0.00 (0 of 2)" in held["evidence"]
    assert "factual score 0.50 -> 1.00" in held["evidence"] and "more than 0.02" in held["evidence"]
    worse = dpo_claim(*with_dpo([0.0, 0.0]))
    assert worse["verdict"] == "did not hold" and "0.50 (1 of 2) -> DPO on stage 2 1.00 (2 of 2)" in worse["evidence"]
    assert dpo_claim(*with_dpo([0.0, 1.0]))["verdict"] == "inconclusive"  # the same rate: a tie
    # a blank answer states nothing, so it is no hallucination (as the Stage 2 claim counts them): the rate falls
    assert dpo_claim(*with_dpo([0.0, 0.0], answer=" "))["verdict"] == "held"


def test_the_dpo_claim_is_not_measurable_without_the_dpo_run_or_its_factual_answers():
    missing = dpo_claim(build_report(), IDS)  # no dpo phase ran (the lesson's preset)
    assert missing["verdict"] == "not measurable" and "DPO on stage 2 n/a (n/a)" in missing["evidence"]
    report, ids = with_dpo([1.0, 1.0])
    report["results"] = [r for r in report["results"] if not (r["model"] == "s2" and r["category"] == "factual")]
    assert dpo_claim(report, ids)["verdict"] == "not measurable"  # nothing to compare it with
    assert verdicts(report=report, ids=ids)["Loss decreases smoothly"] == "held"  # the others keep theirs
