"""evalsuite.stats on hand-built clusters where the answer is known: a clear win holds, a clear loss on a claimed
improvement does not, a tie over many queries refutes an improvement, too few queries decide nothing (and say what
they could detect), equivalence goes both ways; a query's variants resample together; the same input gives the
same interval.

    python -m pytest -q tests/test_eval_stats.py
"""

import pytest

from evalsuite import stats
from evalsuite.stats import decide, mean_interval, paired_difference, verdict

PATTERN = [0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0]  # pass/fail per query: mean 0.5, real spread between queries


def clusters(values, variants=1, prefix="q") -> dict:
    """query id -> `variants` copies of that query's score (its paraphrases all scored alike)."""
    return {f"{prefix}{i}": [float(v)] * variants for i, v in enumerate(values)}


def test_mean_interval_is_the_row_mean_with_an_interval_around_it():
    found = mean_interval({"a": [1.0, 0.0, 1.0], "b": [0.0], "c": [1.0, 1.0]})
    assert found["score"] == pytest.approx(4 / 6)  # the mean over every generation, as report.json showed before
    assert (found["n"], found["generations"]) == (3, 6)
    assert 0 <= found["ci_low"] <= found["score"] <= found["ci_high"] <= 1


def test_no_interval_below_two_queries():
    assert mean_interval({}) == {"score": None, "ci_low": None, "ci_high": None, "n": 0, "generations": 0}
    one = mean_interval({"q": [1.0, 0.0, 1.0]})  # three variants of ONE query are not three measurements
    assert (one["score"], one["ci_low"], one["ci_high"], one["n"]) == (pytest.approx(2 / 3), None, None, 1)
    single = decide({"q": [0.0]}, {"q": [1.0]}, "increase")
    assert single["interval"] is None and single["detectable"] is None and single["n"] == 1
    assert single["verdict"] == "inconclusive" and "too few queries (n=1" in single["reason"]
    nobody = decide({"q1": [0.0]}, {"q2": [1.0]}, "increase")  # no query answered by both: nothing paired
    assert nobody["n"] == 0 and nobody["verdict"] == "inconclusive" and "no query" in nobody["reason"]


def test_a_clear_win_holds():
    before, after = clusters(PATTERN * 3), clusters([1.0] * 24)
    found = decide(before, after, "increase")
    assert found["diff"] == pytest.approx(0.5) and found["n"] == 24
    low, high = found["interval"]
    assert 0 < low < 0.5 < high
    assert found["verdict"] == "held"


def test_a_clear_loss_on_a_claimed_improvement_did_not_hold():
    found = decide(clusters([1.0] * 24), clusters(PATTERN * 3), "increase")
    assert found["interval"][1] < 0 and found["verdict"] == "did not hold"


def test_a_tie_over_many_queries_refutes_an_improvement():
    """A tie refutes "b improves on a" once the interval is narrow enough to lie below the smallest gain worth
    claiming (MIN_EFFECT); until then it is inconclusive and names the effect these many queries could detect."""
    a = clusters(PATTERN * 8)
    b = clusters((PATTERN[1:] + PATTERN[:1]) * 8)  # same pass rate, other queries passed: differences of ±1 and 0
    found = decide(a, b, "increase")
    assert found["diff"] == pytest.approx(0) and found["interval"][0] < 0 < stats.MIN_EFFECT < found["interval"][1]
    assert found["verdict"] == "inconclusive" and found["detectable"] > stats.MIN_EFFECT
    # an exact tie (every query scores the same on both) is measured precisely: no gain, so did not hold
    exact = decide(a, clusters(PATTERN * 8), "increase")
    assert exact["interval"] == [0.0, 0.0] and exact["verdict"] == "did not hold"
    # the same scatter over many more queries narrows the interval below +MIN_EFFECT: did not hold
    many = decide(clusters(PATTERN * 200), clusters((PATTERN[1:] + PATTERN[:1]) * 200), "increase")
    assert many["interval"][1] < stats.MIN_EFFECT and many["verdict"] == "did not hold"


def test_too_few_queries_are_inconclusive_whatever_the_interval_says():
    """Five unanimous wins: the bootstrap interval is a point above zero, but five queries cannot decide."""
    found = decide(clusters([0.0, 0.0, 0.0, 0.0, 1.0]), clusters([1.0] * 5), "increase")
    assert found["interval"][0] > 0  # the interval alone would say held
    assert found["verdict"] == "inconclusive" and "too few queries (n=5" in found["reason"]
    assert found["detectable"] == pytest.approx(stats.DETECTABLE_Z * found["se"]) and found["detectable"] > 0
    assert decide(clusters([0.0] * 5 + [1.0]), clusters([1.0] * 6), "increase")["verdict"] == "held"


def test_detectable_effect_shrinks_with_the_square_root_of_the_queries():
    small = paired_difference(clusters(PATTERN * 2), clusters((PATTERN[1:] + PATTERN[:1]) * 2))
    large = paired_difference(clusters(PATTERN * 8), clusters((PATTERN[1:] + PATTERN[:1]) * 8))
    assert small["detectable"] == pytest.approx(2.80 * small["se"])
    assert large["detectable"] == pytest.approx(small["detectable"] / 2, rel=0.15)  # 4x the queries, half the effect


def test_equivalence_both_ways():
    m = stats.EQUIVALENCE_MARGIN
    assert verdict([-0.04, 0.06], "similar", m) == "held"  # wholly inside ±0.10
    assert verdict([0.12, 0.30], "similar", m) == "did not hold"  # wholly above +0.10
    assert verdict([-0.40, -0.15], "similar", m) == "did not hold"  # wholly below -0.10
    assert verdict([-0.02, 0.18], "similar", m) == "inconclusive"  # straddles the margin
    full = clusters(PATTERN * 4)
    same = decide(full, clusters(PATTERN * 4), "similar", m)
    assert same["verdict"] == "held"
    worse = decide(full, clusters([0.0] * 32), "similar", m)
    assert worse["interval"][1] < -m and worse["verdict"] == "did not hold"


def test_one_sided_margins_and_directions():
    assert verdict([-0.08, 0.02], "not_below", 0.10) == "held"  # no worse than the margin
    assert verdict([-0.40, -0.12], "not_below", 0.10) == "did not hold"
    assert verdict([-0.15, 0.02], "not_below", 0.10) == "inconclusive"
    assert verdict([-0.05, 0.08], "not_above", 0.10) == "held"
    assert verdict([0.12, 0.40], "not_above", 0.10) == "did not hold"
    assert verdict([-0.30, -0.10], "decrease") == "held"
    assert verdict([-0.02, 0.20], "decrease") == "did not hold"  # any drop is smaller than 0.05
    assert verdict([0.01, 0.03], "increase") == "held"  # a real gain, however small, holds: held is checked first
    assert verdict(None, "increase") == "inconclusive"
    with pytest.raises(ValueError, match="unknown direction"):
        verdict([0, 1], "bigger")


def test_a_querys_variants_resample_together():
    """Nine paraphrases of each query scored alike add no evidence: the interval is that of one variant per query,
    not the much narrower one of nine times as many independent queries."""
    values = PATTERN * 2
    one = mean_interval(clusters(values))
    nine = mean_interval(clusters(values, variants=9))
    independent = mean_interval({f"q{i}-{j}": [float(v)] for i, v in enumerate(values) for j in range(9)})
    assert nine["n"] == 16 and nine["generations"] == 144
    assert (nine["ci_low"], nine["ci_high"]) == pytest.approx((one["ci_low"], one["ci_high"]))
    width = nine["ci_high"] - nine["ci_low"]
    assert independent["ci_high"] - independent["ci_low"] < width / 2  # what treating variants as queries would do
    paired = paired_difference(clusters(values, variants=9), clusters([1.0] * 16, variants=9))
    assert paired["interval"] == pytest.approx(paired_difference(clusters(values), clusters([1.0] * 16))["interval"])


def test_same_input_same_interval_whatever_the_order():
    a = {f"q{i}": [float(v), 1.0] for i, v in enumerate(PATTERN * 3)}
    b = {f"q{i}": [1.0 - float(v)] for i, v in enumerate(PATTERN * 3)}
    first = paired_difference(a, b)
    assert paired_difference(a, b) == first
    assert paired_difference(dict(reversed(list(a.items()))), dict(reversed(list(b.items())))) == first
    assert mean_interval(a) == mean_interval(dict(reversed(list(a.items()))))


def test_rule_text_states_the_fixed_numbers():
    text = stats.rule_text("increase", "Stage 2 - Stage 1")
    assert "Stage 2 - Stage 1 lies above 0" in text and "below +0.05" in text and "at least 6" in text
    assert "2000" in text and "±0.10" in stats.rule_text("similar", "LoRA - full", 0.10)
