"""The shipped evaluation suite is valid, balanced and self-consistent; the validator catches malformed rows."""

import copy
import importlib.util
import json
from collections import Counter
from pathlib import Path

import pytest

from evalsuite.scorers import score_answer
from evalsuite.suite import CATEGORIES, SUITE_PATH, Query, load_suite, read_rows, select_queries, validate_suite

HELDOUT = Path(__file__).resolve().parent.parent / "assets" / "datasets" / "heldout_items.json"


def test_shipped_suite_is_valid():
    assert validate_suite(read_rows(SUITE_PATH)) == []
    queries = load_suite()
    counts = Counter(q.category for q in queries)
    assert len(queries) >= 42
    assert all(counts[c] >= 7 for c in CATEGORIES), counts
    assert len({q.suite_version for q in queries}) == 1
    assert all(len(q.paraphrases) >= 3 for q in queries)


def test_reference_answers_pass_their_own_checks():
    # Guards the normaliser and the suite together: the listed answer must score 1 as a bare reply.
    for q in load_suite():
        check = q.check
        if check["type"] == "exact":
            answers = check["answers"]
        elif check["type"] == "numeric":
            answers = [f"{check['answer']:g}"]
        elif check["type"] == "constraints" and check["constraints"][0]["kind"] == "json_equals":
            answers = [json.dumps(check["constraints"][0]["value"])]
        else:
            continue
        for answer in answers:
            _, passed, why = score_answer(q, answer)
            assert passed, f"{q.id}: {answer!r}: {why}"


def test_heldout_queries_match_heldout_items_json():
    # Held-out queries start from the item's Stage 1 prompt, and the item's reference answer (code included)
    # must pass the query's check, so a regenerated heldout file that drifts from the suite fails here.
    if not HELDOUT.exists():
        pytest.skip("assets/datasets/heldout_items.json not generated yet")
    items = {item["prompt"]: item for family in json.loads(HELDOUT.read_text()).values() for item in family}
    heldout = [q for q in load_suite() if q.source and "heldout_items" in q.source]
    assert len(heldout) >= 16
    for q in heldout:
        assert q.canonical in items, f"{q.id}: canonical phrasing is not a held-out item's prompt"
        _, passed, why = score_answer(q, items[q.canonical]["answer"])
        assert passed, f"{q.id}: reference answer fails: {why}"


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict | list):
        for v in value.values() if isinstance(value, dict) else value:
            yield from _strings(v)


def test_no_training_file_contains_a_heldout_item():
    # Every starter file a stage trains on (SFT, preference pairs, GRPO prompts): a held-out item's prompt or the
    # text it works on (the country, the phrase, the review, the record) in any field would leak it.
    if not HELDOUT.exists():
        pytest.skip("assets/datasets/heldout_items.json not generated yet")
    families = json.loads(HELDOUT.read_text())
    items = [item for family in families.values() for item in family]
    training = sorted(HELDOUT.parent.glob("*.jsonl"))
    assert {"stage1_sft.jsonl", "stage2_instruction.jsonl", "preference.jsonl"} <= {f.name for f in training}
    for path in training:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            text = "\n".join(_strings(json.loads(line))).lower()
            for item in items:
                for key in ("prompt", "input"):
                    assert item[key].lower() not in text, f"{path.name} line {number} holds held-out {item[key]!r}"
    asked = {q.canonical for q in load_suite() if q.source and "heldout_items" in q.source}
    assert asked == {item["prompt"] for name, family in families.items() if name != "antonyms" for item in family}


def _queries(counts: dict) -> list[Query]:
    return [Query(id=f"{c}-{i}", category=c, suite_version="1", paraphrases=["a", "b", "c"],
                  check={"type": "exact", "answers": ["a"]}, expected={}) for c, n in counts.items() for i in range(n)]


@pytest.mark.parametrize(("counts", "limit", "expected"), [
    ({"a": 10, "b": 10, "c": 10}, 12, {"a": 4, "b": 4, "c": 4}),
    ({"a": 10, "b": 10, "c": 10}, 14, {"a": 4, "b": 4, "c": 4}),  # a remainder smaller than the categories is left
    ({"a": 2, "b": 10, "c": 10}, 12, {"a": 2, "b": 5, "c": 5}),   # what a small category cannot use goes to the rest
    ({"a": 2, "b": 3, "c": 10}, 12, {"a": 2, "b": 3, "c": 7}),
    ({"a": 2, "b": 3, "c": 10}, 100, {"a": 2, "b": 3, "c": 10}),
    ({"a": 2, "b": 3, "c": 10}, 1, {"a": 1, "b": 1, "c": 1}),     # every category at least once
])
def test_select_queries_spreads_the_limit_over_categories_as_they_allow(counts, limit, expected):
    chosen = select_queries(_queries(counts), limit)
    assert Counter(q.category for q in chosen) == expected
    assert [q.id for q in chosen] == [f"{c}-{i}" for c, n in expected.items() for i in range(n)]  # the first ones


def test_suite_jsonl_is_what_build_suite_writes():
    # build_suite.py is the source; a stale suite.jsonl (or a changed Stage 2 phrasing) must be rebuilt.
    if not HELDOUT.exists():
        pytest.skip("assets/datasets/heldout_items.json not generated yet")
    spec = importlib.util.spec_from_file_location("build_suite", SUITE_PATH.parent / "build_suite.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.build_rows() == [r for r in read_rows(SUITE_PATH) if not r.get("_blank")], (
        "assets/eval/suite.jsonl is stale: run python assets/eval/build_suite.py (and bump SUITE_VERSION)")


BASE_ROW = {
    "id": "x1", "category": "factual", "suite_version": "1.0",
    "paraphrases": ["What is 2 + 2?", "Add 2 and 2.", "What do you get from 2 plus 2?"],
    "check": {"type": "numeric", "answer": 4},
    "expected": {"stage1": "a", "stage2": "b", "stage3": "c"},
}


def suite_with(change=None) -> list[dict]:
    """A minimal valid suite (6 per category), with `change` applied to the first row."""
    rows = []
    checks = {"instruction_following": {"type": "constraints", "constraints": [{"kind": "lowercase"}]},
              "creative": {"type": "constraints", "constraints": [{"kind": "title"}]},
              "code": {"type": "code", "function": "f", "tests": ["assert f() == 1"]}}
    for c in CATEGORIES:
        for i in range(6):
            r = copy.deepcopy(BASE_ROW) | {"id": f"{c}-{i}", "category": c}
            r["check"] = copy.deepcopy(checks.get(c, r["check"]))
            if c == "code":
                r["paraphrases"] = ["Write f().", "Define f() returning 1.", "Code f() in Python."]
            rows.append(r)
    if change:
        change(rows[0])
    return rows


def test_minimal_suite_is_valid():
    assert validate_suite(suite_with()) == []


@pytest.mark.parametrize("change,expected", [
    (lambda r: r.update(paraphrases=["What is 2 + 2?", "what is 2+2", "Add 2 and 2."]), "line 1: paraphrases:"),
    (lambda r: r.update(check={"type": "bleu"}), "line 1: check: type must be one of"),
    (lambda r: r.update(category="trivia"), "line 1: category: 'trivia'"),
    (lambda r: r.pop("expected"), "line 1: expected: missing"),
    (lambda r: r["expected"].pop("stage3"), "line 1: expected: needs a non-empty note"),
    (lambda r: r.update(colour="red"), "line 1: colour: unknown field"),
    (lambda r: r.update(suite_version="0.9"), "suite_version: rows disagree"),
    (lambda r: r.update(id="factual-1"), "line 2: id: duplicate of line 1"),
    (lambda r: r.update(check={"type": "numeric", "answer": "4"}), "check: numeric needs a number"),
    (lambda r: r.update(check={"type": "exact", "answers": []}), "check: exact needs 'answers'"),
    (lambda r: r.update(check={"type": "code", "function": "f", "tests": ["x"]}), "not allowed for category"),
    (lambda r: r.update(category="instruction_following", check={"type": "constraints", "constraints": [
        {"kind": "rhymes"}]}), "unknown constraint kind 'rhymes'"),
    (lambda r: r.update(category="code", check={"type": "code", "function": "g", "tests": ["assert g(("]}),
     "test 1 is not valid Python"),
    (lambda r: r.update(category="code", check={"type": "code", "function": "g", "tests": ["g()"]}),
     "does not name the function g()"),
])
def test_validator_catches(change, expected):
    problems = validate_suite(suite_with(change))
    assert any(expected in p for p in problems), problems


def test_validator_counts_categories_and_reports_bad_json_lines(tmp_path):
    rows = [r for r in suite_with() if not (r["category"] == "code" and r["id"] != "code-0")]
    assert "suite: category: 'code' has 1 queries, needs at least 6" in validate_suite(rows)
    path = tmp_path / "suite.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in suite_with()) + "\n{not json\n")
    problems = validate_suite(read_rows(path))
    assert len(problems) == 1 and problems[0].startswith("line 37: json: not valid JSON")
    with pytest.raises(ValueError, match="line 37"):
        load_suite(path)


def test_the_starter_files_are_what_make_starter_writes(tmp_path):
    # make_starter.py is the source of every starter file: an edit to it (or to a file by hand) must be regrown.
    import subprocess
    import sys

    out = tmp_path / "grown"
    subprocess.run([sys.executable, str(HELDOUT.parent / "make_starter.py"), "--out", str(out)], check=True,
                   capture_output=True)
    for grown in sorted(out.iterdir()):
        assert grown.read_bytes() == (HELDOUT.parent / grown.name).read_bytes(), f"{grown.name} is stale"
