"""One variant builder for the runner and the Paraphrase test, the short-run query selection, the planned number of
generations, and the scoring of a grid of answers to one task (what the Paraphrase tab shows)."""

from collections import Counter

from evalsuite.robustness import grid_robustness
from evalsuite.scorers import score_cells
from evalsuite.suite import CATEGORIES, load_suite, select_queries
from evalsuite.variants import SEEN_TEMPLATES, build_variants, prompt_text, query_variants
from trainers.templates import HELDOUT_TEMPLATES


def test_variants_are_paraphrase_messages_then_the_canonical_phrasing_under_each_template():
    variants = build_variants(["Convert 3 km to m.", " How many meters are in 3 km? "], "  3 km ")
    assert [(v["variant"], v["variant_kind"]) for v in variants] == [
        ("p0", "paraphrase"), ("p1", "paraphrase"), ("tpl:alpaca", "seen_template"), ("tpl:qa", "seen_template"),
        ("tpl:prompt_reply", "heldout_template"), ("tpl:inst_tags", "heldout_template"),
        ("tpl:request", "heldout_template")]
    assert variants[1]["prompt"] == [{"role": "user", "content": "How many meters are in 3 km?\n\n3 km"}]
    assert variants[2]["prompt"] == "### Instruction:\nConvert 3 km to m.\n\n### Input:\n3 km\n\n### Response:\n"
    assert variants[6]["prompt"] == "Request:\nConvert 3 km to m.\n\nDetails:\n3 km\n---\nAnswer:\n"
    assert [prompt_text(v["prompt"]) for v in variants[:2]] == ["Convert 3 km to m.\n\n3 km",
                                                                "How many meters are in 3 km?\n\n3 km"]
    only = build_variants(["a", "b", "c"], templates=False)  # the Paraphrase tab with its template box unticked
    assert [v["variant"] for v in only] == ["p0", "p1", "p2"] and build_variants([], "x") == []


def test_a_suite_query_gets_the_variants_the_tab_builds_from_its_phrasings():
    query = next(q for q in load_suite() if q.input)
    assert query_variants(query) == build_variants(query.paraphrases, query.input)
    assert len(query_variants(query)) == len(query.paraphrases) + len(SEEN_TEMPLATES) + len(HELDOUT_TEMPLATES)
    assert query_variants(query)[0]["prompt"][0]["content"] == query.user_message(0)


def test_select_queries_keeps_every_category_and_planned_generations_counts_their_variants():
    from evalsuite.runner import planned_generations

    queries = load_suite()
    assert select_queries(queries, None) == queries and select_queries(queries, 0) == queries
    short = select_queries(queries, 12)
    assert Counter(q.category for q in short) == {c: 2 for c in CATEGORIES}
    assert all(q is next(x for x in queries if x.category == q.category) for q in select_queries(queries, 3))
    assert Counter(q.category for q in select_queries(queries, 3)) == {c: 1 for c in CATEGORIES}  # at least one
    per_model = sum(len(query_variants(q)) for q in short)
    assert planned_generations(3, 12) == 3 * per_model
    assert planned_generations(1, None) == sum(len(query_variants(q)) for q in queries) > per_model


def test_grid_scores_by_suite_check_expected_answer_or_majority():
    answers = {"m": ["Paris", "paris.", "", "Lyon"]}
    scores, meaning = score_cells(answers, None, "")
    assert [p for _, p in scores["m"]] == [True, True, False, False] and "majority" in meaning
    scores, meaning = score_cells(answers, None, "Lyon")
    assert [p for _, p in scores["m"]] == [False, False, False, True] and "Lyon" in meaning
    query = next(q for q in load_suite() if q.check["type"] == "exact")
    right = query.check["answers"][0]
    scores, meaning = score_cells({"m": [right, "no idea"]}, query)
    assert [p for _, p in scores["m"]] == [True, False] and query.id in meaning


def test_grid_robustness_is_the_suite_metric_over_the_grid():
    variants = build_variants(["a", "b"], templates=True)[:3]  # p0, p1, tpl:alpaca
    answers = {"steady": ["7", "7", "7"], "brittle": ["7", "8", "8"]}
    scores = {"steady": [(1.0, True)] * 3, "brittle": [(1.0, True), (0.0, False), (0.0, False)]}
    metrics = grid_robustness(variants, answers, scores, "q")
    assert metrics["steady"]["overall"]["spread"] == 0 and metrics["steady"]["overall"]["consistency"] == 1
    assert metrics["brittle"]["overall"]["flip_rate"] == 1 and metrics["brittle"]["overall"]["worst"] == 0
    assert metrics["brittle"]["paraphrase"]["mean"] == 0.5 and metrics["brittle"]["seen_template"]["mean"] == 0
