"""Uncertainty for every number that decides something: bootstrap intervals over queries, and the verdict rule.

    from evalsuite.stats import mean_interval, paired_difference, decide, verdict
    mean_interval({"q1": [1.0, 0.0, 1.0], "q2": [1.0]})       # {"score", "ci_low", "ci_high", "n", "generations"}
    paired_difference(stage1, stage2)                          # stage2 - stage1 over the queries both answered
    decide(stage1, stage2, "increase")                         # the difference with its verdict and its reason
    verdict((0.05, 0.30), "increase")                          # "held"

Inputs are clusters: query id -> the scores of that query's generations (its paraphrases and templates). A
query's variants are not independent evidence (the same task asked again), so the bootstrap resamples whole queries
and a query's variants travel together; the statistic is the mean over every generation in the resample, the
same mean the report shows as the score. A difference between two sets (two models, or two variant subsets of one
model) is paired: each resample draws the same queries for both, over the queries both answered.

Fixed here, before any data is seen, and printed with every verdict (never tuned to an outcome):
- RESAMPLES = 2000 bootstrap resamples from a fixed SEED: the same input always gives the same interval.
- 95% percentile intervals (the 2.5th and 97.5th percentiles of the resampled statistic).
- MIN_QUERIES = 6: fewer paired queries give no verdict (inconclusive). With 5 queries even a unanimous result is
  not significant by a two-sided sign test (2 x 0.5^5 = 0.063 > 0.05; with 6, 0.031), and a percentile bootstrap
  over so few clusters is too narrow.
- MIN_EFFECT = 0.05: the smallest gain (or drop) worth claiming on the [0, 1] score scale.
- EQUIVALENCE_MARGIN = 0.10: how far apart two scores may be and still count as "similar" / "preserved" / "no
  gain" (a tenth of the scale); chosen with the rule, before any run.
- The smallest detectable effect for n queries is DETECTABLE_Z x the bootstrap standard error of the difference,
  DETECTABLE_Z = 1.96 + 0.84 = 2.80: a true difference that large is detected (interval excluding 0) with about 80%
  power at a two-sided alpha of 0.05 (normal approximation).
"""

import numpy as np

RESAMPLES = 2000
SEED = 20260601
LEVEL = 0.95
MIN_QUERIES = 6
MIN_EFFECT = 0.05
EQUIVALENCE_MARGIN = 0.10
DETECTABLE_Z = 1.96 + 0.84  # z for two-sided alpha 0.05 plus z for 80% power
HELD, NOT_HELD, INCONCLUSIVE = "held", "did not hold", "inconclusive"
METHOD_NOTE = (f"Queries resampled {RESAMPLES} times with their variants together; at least {MIN_QUERIES} paired "
               "queries needed.")
# direction -> the claim about b - a it tests
DIRECTIONS = {
    "increase": "b is higher than a",
    "decrease": "b is lower than a",
    "similar": "b and a are equivalent within the margin",
    "not_below": "b is not lower than a by more than the margin (non-inferiority)",
    "not_above": "b is not higher than a by more than the margin (non-superiority)",
}


def _arrays(clusters: dict, keys: list) -> tuple[np.ndarray, np.ndarray]:
    """Per-query score sums and generation counts, in `keys` order."""
    sums = np.array([float(sum(clusters[k])) for k in keys])
    counts = np.array([len(clusters[k]) for k in keys], dtype=float)
    return sums, counts


def _resample_index(n: int) -> np.ndarray:
    # A fresh generator per call: the draw depends only on n, so an input always gets the same interval and the
    # two sides of a paired difference get the same queries.
    return np.random.default_rng(SEED).integers(0, n, size=(RESAMPLES, n))


def _percentiles(values: np.ndarray) -> tuple[float, float]:
    tail = 100 * (1 - LEVEL) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def _clean(clusters: dict) -> dict:
    """Drop queries without any scored generation (a cluster needs at least one)."""
    return {k: list(v) for k, v in (clusters or {}).items() if len(v)}


def mean_interval(clusters: dict) -> dict:
    """The mean over all generations with its 95% cluster-bootstrap interval; ci_low/ci_high are None below 2
    queries (one query has no spread between queries to resample)."""
    clusters = _clean(clusters)
    keys = sorted(clusters)
    n, generations = len(keys), sum(len(v) for v in clusters.values())
    if n == 0:
        return {"score": None, "ci_low": None, "ci_high": None, "n": 0, "generations": 0}
    sums, counts = _arrays(clusters, keys)
    out = {"score": float(sums.sum() / counts.sum()), "ci_low": None, "ci_high": None, "n": n,
           "generations": generations}
    if n >= 2:
        idx = _resample_index(n)
        out["ci_low"], out["ci_high"] = _percentiles(sums[idx].sum(axis=1) / counts[idx].sum(axis=1))
    return out


def paired_difference(a: dict, b: dict) -> dict:
    """b - a over the queries both have, paired: {"a", "b" (the two means over those queries), "diff", "interval"
    ([low, high] or None below 2 queries), "se" (bootstrap standard error), "detectable", "n", "generations"}."""
    a, b = _clean(a), _clean(b)
    keys = sorted(set(a) & set(b))
    n = len(keys)
    out = {"a": None, "b": None, "diff": None, "interval": None, "se": None, "detectable": None, "n": n,
           "generations": sum(len(a[k]) + len(b[k]) for k in keys)}
    if n == 0:
        return out
    (sa, ca), (sb, cb) = _arrays(a, keys), _arrays(b, keys)
    out["a"], out["b"] = float(sa.sum() / ca.sum()), float(sb.sum() / cb.sum())
    out["diff"] = out["b"] - out["a"]
    if n >= 2:
        idx = _resample_index(n)
        diffs = sb[idx].sum(axis=1) / cb[idx].sum(axis=1) - sa[idx].sum(axis=1) / ca[idx].sum(axis=1)
        out["interval"] = list(_percentiles(diffs))
        out["se"] = float(diffs.std(ddof=1))
        out["detectable"] = DETECTABLE_Z * out["se"]
    return out


def default_margin(direction: str) -> float:
    return MIN_EFFECT if direction in ("increase", "decrease") else EQUIVALENCE_MARGIN


def verdict(diff_interval, direction: str, margin: float | None = None) -> str:
    """held / did not hold / inconclusive for a claim about b - a, from its 95% interval [low, high]:
    increase:  held if low > 0; did not hold if high < +margin (MIN_EFFECT): any gain is too small or negative.
    decrease:  held if high < 0; did not hold if low > -margin.
    similar:   held if the interval lies inside [-margin, +margin] (both one-sided tests pass); did not hold if it
               lies wholly outside it (low > +margin or high < -margin).
    not_below: held if low > -margin; did not hold if high < -margin.
    not_above: held if high < +margin; did not hold if low > +margin.
    Otherwise (and without an interval) inconclusive. `held` is checked first: a real but small gain holds."""
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}; one of {', '.join(DIRECTIONS)}")
    if diff_interval is None:
        return INCONCLUSIVE
    low, high = diff_interval
    m = default_margin(direction) if margin is None else margin
    held, not_held = {
        "increase": (low > 0, high < m),
        "decrease": (high < 0, low > -m),
        "similar": (-m <= low and high <= m, low > m or high < -m),
        "not_below": (low > -m, high < -m),
        "not_above": (high < m, low > m),
    }[direction]
    return HELD if held else NOT_HELD if not_held else INCONCLUSIVE


def rule_text(direction: str, what: str, margin: float | None = None) -> str:
    """The rule of `verdict` as a sentence about `what` (e.g. "Stage 2 - Stage 1")."""
    m = default_margin(direction) if margin is None else margin
    ci = f"the 95% paired bootstrap interval of {what}"
    held, not_held = {
        "increase": (f"{ci} lies above 0", f"it lies below +{m:.2f} (the smallest gain worth claiming)"),
        "decrease": (f"{ci} lies below 0", f"it lies above -{m:.2f} (the smallest drop worth claiming)"),
        "similar": (f"{ci} lies within ±{m:.2f} (the equivalence margin)", f"it lies wholly outside ±{m:.2f}"),
        "not_below": (f"{ci} lies above -{m:.2f} (the margin)", f"it lies below -{m:.2f}"),
        "not_above": (f"{ci} lies below +{m:.2f} (the margin)", f"it lies above +{m:.2f}"),
    }[direction]
    return f"held if {held}; did not hold if {not_held}; otherwise inconclusive. {METHOD_NOTE}"


def decide(a: dict, b: dict, direction: str, margin: float | None = None) -> dict:
    """paired_difference(a, b) plus "verdict" and "reason": inconclusive below MIN_QUERIES paired queries whatever
    the interval says, else `verdict` on the interval."""
    out = paired_difference(a, b)
    if out["n"] == 0:
        return {**out, "verdict": INCONCLUSIVE, "reason": "no query was answered by both"}
    if out["n"] < MIN_QUERIES:
        return {**out, "verdict": INCONCLUSIVE,
                "reason": f"too few queries (n={out['n']}; a verdict needs at least {MIN_QUERIES})"}
    found = verdict(out["interval"], direction, margin)
    reason = "" if found != INCONCLUSIVE else "the interval is too wide to decide"
    return {**out, "verdict": found, "reason": reason}
