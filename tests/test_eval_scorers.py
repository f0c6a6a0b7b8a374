"""Golden tests for evalsuite.scorers and evalsuite.ifeval: every check and constraint kind passes and fails."""

import pytest

from evalsuite import ifeval
from evalsuite.scorers import normalize_text, numeric_scores, score_answer, score_details, score_exact

# kind -> (constraint, an answer that passes, an answer that fails). Every kind in CONSTRAINT_KINDS must be here.
GOLDEN = {
    "min_words": ({"kind": "min_words", "n": 5}, "one two three four five", "one two three"),
    "max_words": ({"kind": "max_words", "n": 3}, "just three words", "this has far too many words"),
    "sentence_count": ({"kind": "sentence_count", "n": 2}, "It costs 3.5 dollars. I paid!", "One. Two. Three."),
    "paragraph_count": ({"kind": "paragraph_count", "n": 2}, "First part.\n\nSecond part.", "Only one paragraph."),
    "line_count": ({"kind": "line_count", "n": 3}, "a\nb\n\nc", "a\nb"),
    "include_keywords": ({"kind": "include_keywords", "keywords": ["sea", "blue"]}, "The Sea is blue.",
                         "The seashore is blue."),
    "exclude_keywords": ({"kind": "exclude_keywords", "keywords": ["rain"]}, "A rainy day.", "Rain again."),
    "keyword_frequency": ({"kind": "keyword_frequency", "keyword": "happy", "n": 2}, "Happy days, happy me.",
                          "A happy day."),
    "json_format": ({"kind": "json_format", "required_keys": ["name"]}, '```json\n{"name": "Ana"}\n```',
                    "{name: Ana}"),
    "json_equals": ({"kind": "json_equals", "value": {"name": "Ana", "age": 30}}, '{"age": 30, "name": "Ana"}',
                    '{"name": "Ana", "age": "30"}'),
    "bullet_count": ({"kind": "bullet_count", "n": 3}, "* apple\n- pear\n* plum", "* apple\n* pear\n**bold**"),
    "lowercase": ({"kind": "lowercase"}, "all quiet here.", "Not quiet."),
    "uppercase": ({"kind": "uppercase"}, "HELLO THERE!", "HELLO there"),
    "starts_with": ({"kind": "starts_with", "phrase": "Yes"}, "yes, it is.", "Well, yes."),
    "ends_with": ({"kind": "ends_with", "phrase": "Is there anything else?"}, "Sleep early. Is there anything else?",
                  "Is there anything else? Sleep early."),
    "placeholder_count": ({"kind": "placeholder_count", "n": 2}, "Dear [name], see you at [time].", "Dear [name],"),
    "title": ({"kind": "title"}, "<<Autumn>>\nLeaves fall.", "Autumn\nLeaves fall."),
    "section_count": ({"kind": "section_count", "n": 2}, "SECTION 1\nA robot.\nSECTION 2\nIt wakes.",
                      "Section one: a robot."),
    "highlighted_sections": ({"kind": "highlighted_sections", "n": 2}, "I love *pasta* and *pizza*.",
                             "I love *pasta* and pizza."),
    "no_commas": ({"kind": "no_commas"}, "A computer computes.", "A computer, which computes."),
    "letter_frequency": ({"kind": "letter_frequency", "letter": "z", "n": 3}, "Zebras zigzag lazily.", "A zebra."),
    "capital_word_frequency": ({"kind": "capital_word_frequency", "n": 2}, "GET STRONG today", "I am A strong one"),
    "quoted": ({"kind": "quoted"}, '"Fresh bread daily."', 'Fresh bread "daily".'),
    "postscript": ({"kind": "postscript"}, "See you soon.\nP.S. Bring cake.", "See you soon. Bring cake."),
}


def test_golden_table_covers_every_constraint_kind():
    assert set(GOLDEN) == set(ifeval.CONSTRAINT_KINDS)
    assert len(GOLDEN) >= 15


@pytest.mark.parametrize("kind", sorted(GOLDEN))
def test_constraint_passes_and_fails(kind):
    constraint, good, bad = GOLDEN[kind]
    assert ifeval.constraint_problems(constraint) == []
    ok, why = ifeval.check_constraint(constraint, good)
    assert ok, why
    ok, why = ifeval.check_constraint(constraint, bad)
    assert not ok, why
    assert why


def test_constraint_problems_reports_bad_params():
    assert "unknown constraint kind" in ifeval.constraint_problems({"kind": "rhymes"})[0]
    assert ifeval.constraint_problems({"kind": "max_words"}) == ["max_words: missing param 'n'"]
    assert "must be int" in ifeval.constraint_problems({"kind": "max_words", "n": "3"})[0]
    assert "relation" in ifeval.constraint_problems({"kind": "line_count", "n": 3, "relation": "more"})[0]
    assert "unknown param" in ifeval.constraint_problems({"kind": "title", "n": 3})[0]


def test_loose_accepts_preamble_and_markdown_but_strict_does_not():
    answer = "Sure! Here is my answer:\nthe sea is calm tonight."
    res = ifeval.evaluate_constraints([{"kind": "lowercase"}], answer)
    assert res["strict"] == [False] and res["loose"] == [True]
    res = ifeval.evaluate_constraints([{"kind": "starts_with", "phrase": "Yes"}], "**Yes**, exercise helps.")
    assert res["prompt_strict"] is False and res["prompt_loose"] is True
    res = ifeval.evaluate_constraints([{"kind": "ends_with", "phrase": "done."}], "All done.\nHope this helps!")
    assert res["strict"] == [False] and res["loose"] == [True]


def test_prompt_level_and_instruction_level_accuracy():
    cons = [{"kind": "lowercase"}, {"kind": "no_commas"}, {"kind": "max_words", "n": 2}]
    res = ifeval.evaluate_constraints(cons, "hello, there friend")
    assert res["strict"] == [True, False, False]
    assert res["prompt_strict"] is False
    assert res["instruction_strict"] == pytest.approx(1 / 3)
    assert ifeval.evaluate_constraints(cons, "hi there")["prompt_strict"] is True


def test_normalize_text():
    assert normalize_text("The  Pacific Ocean!") == "pacific ocean"
    assert normalize_text("It is 3,500 m.") == "it is 3500 m"
    assert normalize_text("0.5 is larger") == "0.5 is larger"
    assert normalize_text("H₂O") == "h2o"


@pytest.mark.parametrize("answer,passed", [
    ("Paris", True), ("The capital of France is Paris.", True), ("paris!", True),
    ("Parisian food is great", False), ("London\nParis", False), ("", False),
])
def test_exact_alias_as_whole_words_in_first_line(answer, passed):
    assert score_exact(answer, ["Paris"])[1] is passed


def test_exact_distractor_first_mention_decides():
    assert score_exact("Yes, every bloop is a lazzie, no doubt.", ["yes"], ["no"])[1] is True
    assert score_exact("No. Yes would be wrong.", ["yes"], ["no"])[1] is False
    score, passed, why = score_exact("0.25 is larger than 0.5", ["0.5"], ["0.25"])
    assert (score, passed) == (0.0, False) and "wrong answer" in why


@pytest.mark.parametrize("answer,target,units,strict,flexible", [
    ("42", 42, [], True, True),
    ("42.", 42, [], True, True),
    ("4500 m", 4500, ["m"], True, True),
    ("4,500 m.", 4500, ["m"], True, True),
    ("4500 m", 4500, [], False, True),
    ("27 + 15 = 42", 42, [], False, True),
    ("The answer is 42 apples.", 42, [], False, True),
    ("42\nNext question: what is 3 + 4? 7", 42, [], True, False),
    ("41", 42, [], False, False),
    ("2.5", 2.5, [], True, True),
    ("no idea", 42, [], False, False),
])
def test_numeric_strict_vs_flexible(answer, target, units, strict, flexible):
    assert numeric_scores(answer, target, units) == {"strict": strict, "flexible": flexible}


def test_score_answer_dispatch_on_every_check_type():
    numeric = {"category": "reasoning", "check": {"type": "numeric", "answer": 10}}
    score, passed, why = score_answer(numeric, "The next number is 10.")
    assert (score, passed) == (1.0, True) and "strict FAIL" in why
    assert score_details(numeric, "10")["extra"] == {"strict": True, "flexible": True}

    exact = {"category": "factual", "check": {"type": "exact", "answers": ["Jupiter"]}}
    assert score_answer(exact, "Jupiter is the largest.")[:2] == (1.0, True)

    cons = {"category": "instruction_following", "check": {"type": "constraints", "constraints": [
        {"kind": "lowercase"}, {"kind": "no_commas"}]}}
    d = score_details(cons, "hello, world")
    assert (d["score"], d["passed"]) == (0.5, False)
    assert d["extra"]["instruction_strict"] == 0.5 and "1/2 constraints met" in d["why"]
    assert not d["why"].startswith("constraint check only")

    creative = {**cons, "category": "creative"}
    assert score_answer(creative, "hello world")[2].startswith("constraint check only, not quality")

    code = {"category": "code", "check": {"type": "code", "function": "triple",
                                          "tests": ["assert triple(2) == 6", "assert triple(0) == 0"]}}
    score, passed, why = score_answer(code, "```python\ndef triple(x):\n    return x * 3\n```")
    assert (score, passed) == (1.0, True), why
    score, passed, why = score_answer(code, "def triple(x):\n    return x * 2 + 2")
    assert (score, passed) == (0.5, False) and "1/2 tests passed" in why

    with pytest.raises(ValueError):
        score_answer({"category": "factual", "check": {"type": "bleu"}}, "x")
