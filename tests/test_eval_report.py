"""Robustness metrics on hand-computed examples, and the report files (json, csv, self-contained html)."""

import csv
import json
import math

import pytest

from evalsuite.report import build_figures, check_summary, summarize, write_report
from evalsuite.robustness import model_robustness, query_metrics


def row(model, qid, variant, kind, score, answer, category="factual"):
    return {"model": model, "query_id": qid, "category": category, "variant": variant, "variant_kind": kind,
            "prompt": f"prompt for {qid} {variant}", "answer": answer, "score": score, "passed": score == 1,
            "why": "because", "extra": {"strict": score == 1}}


CAPITAL = [
    row("base", "q1", "p0", "paraphrase", 1.0, "Paris"),
    row("base", "q1", "p1", "paraphrase", 0.0, "London"),
    row("base", "q1", "p2", "paraphrase", 1.0, "paris."),
    row("base", "q1", "tpl:alpaca", "seen_template", 1.0, "Paris"),
    row("base", "q1", "tpl:inst_tags", "heldout_template", 0.0, "I don't know"),
]
SEVEN = [
    row("base", "q2", "p0", "paraphrase", 1.0, "7", category="reasoning"),
    row("base", "q2", "p1", "paraphrase", 1.0, "7.", category="reasoning"),
]


def test_query_metrics_by_hand():
    m = query_metrics(CAPITAL)
    o = m["overall"]
    assert (o["n"], o["mean"], o["worst"], o["best"], o["spread"]) == (5, pytest.approx(0.6), 0.0, 1.0, 1.0)
    assert o["std"] == pytest.approx(math.sqrt(0.24))  # ((0.4^2 * 3 + 0.6^2 * 2) / 5)
    assert o["consistency"] == pytest.approx(3 / 10)  # paris x3 -> 3 equal pairs of 10
    assert o["flip_rate"] == pytest.approx(2 / 4)  # p1 and the held-out template differ from p0
    p = m["paraphrase"]
    assert (p["mean"], p["consistency"], p["flip_rate"]) == (pytest.approx(2 / 3), pytest.approx(1 / 3), 0.5)
    assert m["seen_template"]["flip_rate"] == 0.0 and m["seen_template"]["consistency"] is None
    assert m["seen_template"]["std"] == 0.0
    assert m["heldout_template"]["flip_rate"] == 1.0


def test_model_robustness_means_over_queries():
    rob = model_robustness(CAPITAL + SEVEN)["base"]
    assert rob["overall"]["n_queries"] == 2
    assert rob["overall"]["mean"] == pytest.approx((0.6 + 1.0) / 2)
    assert rob["overall"]["consistency"] == pytest.approx((0.3 + 1.0) / 2)
    assert rob["overall"]["flip_rate"] == pytest.approx((0.5 + 0.0) / 2)
    assert rob["seen_template"]["n_queries"] == 1 and rob["seen_template"]["mean"] == 1.0
    assert set(rob["per_query"]) == {"q1", "q2"}


def test_single_variant_has_no_pairs_and_no_flips():
    m = query_metrics([row("base", "q", "p0", "paraphrase", 0.5, "x")])["overall"]
    assert (m["spread"], m["std"], m["consistency"], m["flip_rate"]) == (0.0, 0.0, None, None)


def cell(score, n, generations, ci=(None, None)) -> dict:
    return {"score": pytest.approx(score), "ci_low": ci[0], "ci_high": ci[1], "n": n, "generations": generations}


def test_summarize_per_model_and_category():
    rows = CAPITAL + SEVEN + [row("stage1", "q1", "p0", "paraphrase", 1.0, "Paris")]
    # one query per category: the mean of its variants, n=1 and no interval (its variants are not queries)
    assert summarize(rows) == {"base": {"factual": cell(0.6, 1, 5), "reasoning": cell(1.0, 1, 2)},
                               "stage1": {"factual": cell(1.0, 1, 1)}}


def test_summary_intervals_resample_queries():
    rows = [row("m", f"q{i}", f"p{j}", "paraphrase", float(j <= i % 3), "x") for i in range(10)
            for j in range(3)]
    s = summarize(rows)["m"]["factual"]
    # query i passes (i % 3) + 1 of its 3 variants: 19 of 30 in all, and queries differ, so the interval has width
    assert (s["n"], s["generations"]) == (10, 30) and s["score"] == pytest.approx(19 / 30)
    assert 0 <= s["ci_low"] < s["score"] < s["ci_high"] <= 1
    assert summarize(rows) == summarize(list(reversed(rows)))  # deterministic, whatever the row order


def test_write_report_files(tmp_path):
    rows = CAPITAL + SEVEN + [
        row("stage2-run", "q1", "p0", "paraphrase", 1.0, "<b>Paris</b> & more"),
        row("stage2-run", "q2", "p0", "paraphrase", 0.0, "8", category="reasoning"),
    ]
    paths = write_report(rows, tmp_path / "out", meta={"suite_version": "1.0"})
    assert all(p.exists() for p in paths.values())

    report = json.loads(paths["json"].read_text())
    assert set(report) == {"summary", "robustness", "results", "meta"}
    assert report["summary"]["base"] == {"factual": cell(0.6, 1, 5), "reasoning": cell(1.0, 1, 2)}
    assert report["summary"]["stage2-run"] == {"factual": cell(1.0, 1, 1), "reasoning": cell(0.0, 1, 1)}
    assert all({"score", "ci_low", "ci_high", "n", "generations"} <= set(c)
               for cats in report["summary"].values() for c in cats.values())
    assert set(report["robustness"]) == {"base", "stage2-run"}
    assert len(report["results"]) == len(rows) and report["meta"] == {"suite_version": "1.0"}

    with open(paths["csv"], newline="") as f:
        csv_rows = list(csv.DictReader(f))
    assert len(csv_rows) == len(rows) and csv_rows[0]["query_id"] == "q1"
    assert json.loads(csv_rows[0]["extra"]) == {"strict": True}

    with open(paths["summary_csv"], newline="") as f:
        summary_rows = list(csv.DictReader(f))
    assert summary_rows[0] == {"model": "base", "category": "factual", "score": "0.6", "ci_low": "", "ci_high": "",
                               "n": "1", "generations": "5"}

    page = paths["html"].read_text()
    assert "too few queries (n=1)" in page
    assert page.count("Plotly.newPlot") == 3 and page.count("window.PlotlyConfig") == 1  # plotly.js inlined once
    assert 'id="fig-scores"' in page and 'id="fig-robustness"' in page
    assert "prompt for q2 p1" in page and page.count("<tr class='pass'>") == 6
    assert "&lt;b&gt;Paris&lt;/b&gt; &amp; more" in page and "<b>Paris</b>" not in page  # answers are escaped
    assert "<script src=" not in page  # self-contained


def test_rows_missing_keys_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="lacks \\['score'"):
        write_report([{k: v for k, v in CAPITAL[0].items() if k != "score"}], tmp_path)


def test_build_figures_from_report_dict(tmp_path):
    paths = write_report(CAPITAL, tmp_path)
    figs = build_figures(json.loads(paths["json"].read_text()))
    assert set(figs) == {"scores", "robustness", "by_kind"}
    bar = figs["scores"].data[0]
    assert list(bar.y) == [None]  # one query: no bar to misread, the words instead
    assert [a.text for a in figs["scores"].layout.annotations] == ["too few queries (n=1)"]
    assert "0.60 from too few queries (n=1), no interval" in bar.hovertext[0]
    assert list(figs["robustness"].data[0].x) == ["q1"]


def test_a_report_from_before_intervals_still_draws(tmp_path):
    """The Evaluate tab re-attaches to the newest evaluation job, which may have written bare means."""
    report = json.loads(write_report(CAPITAL + SEVEN, tmp_path)["json"].read_text())
    report["summary"] = {"base": {"factual": 0.6, "reasoning": 1.0}}
    assert list(build_figures(report)["scores"].data[0].hovertext)[0].startswith("0.60 from too few queries")


def test_score_bars_carry_their_intervals_and_counts(tmp_path):
    rows = [row("m", f"q{i}", f"p{j}", "paraphrase", float(j <= i % 3), "x") for i in range(10)
            for j in range(3)] + [row("m", "r1", "p0", "paraphrase", 1.0, "7", category="reasoning")]
    report = json.loads(write_report(rows, tmp_path)["json"].read_text())
    s = report["summary"]["m"]["factual"]
    bar = build_figures(report)["scores"].data[0]
    assert list(bar.x) == ["factual", "reasoning"] and bar.y[0] == pytest.approx(s["score"])
    assert bar.error_y.array[0] == pytest.approx(s["ci_high"] - s["score"]) and bar.error_y.array[0] > 0
    assert bar.error_y.arrayminus[0] == pytest.approx(s["score"] - s["ci_low"])
    assert list(bar.text) == ["n=10", ""] and bar.y[1] is None
    note = build_figures(report)["scores"].layout.annotations
    assert [(a.x, a.text) for a in note] == [("reasoning", "too few queries (n=1)")]
    assert bar.hovertext[0] == (f"{s['score']:.2f} [{s['ci_low']:.2f}, {s['ci_high']:.2f}], n=10 queries, "
                                "30 generations")
    kinds = build_figures(report)["by_kind"].data[0]
    assert kinds.error_y.array[0] > 0 and kinds.text[0] == "n=11"  # paraphrases: per-query means of 11 queries


def test_check_summary():
    assert check_summary({"type": "exact", "answers": ["Paris", "paris"]}) == "exact: Paris | paris"
    assert check_summary({"type": "numeric", "answer": 4500, "units": ["m"]}) == "numeric: 4500 m"
    assert check_summary({"type": "constraints", "constraints": [{"kind": "max_words", "n": 3}]}) == (
        "constraints: max_words n=3")
    assert check_summary({"type": "code", "function": "f", "tests": ["a", "b"]}) == "code: f() with 2 tests"
