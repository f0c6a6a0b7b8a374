"""Golden tests for evalsuite.scorers and evalsuite.ifeval: every check and constraint kind passes and fails."""

import pytest

from evalsuite import ifeval
from evalsuite.scorers import normalize_text, numeric_scores, score_answer, score_details, score_exact

# kind -> (constraint, an answer that passes, an answer that fails). Every kind in CONSTRAINT_KINDS must be here.
GOLDEN = {
    "min_words": ({"kind": "min_words", "n": 5}, "one two three four five", "one two three"),
    "max_words": ({"kind": "max_words", "n": 3}, "just three words", "this has far too many words"),
    "sentence_count": ({"kind": "sentence_count", "n": 2}, "It costs 3.5 dollars. I paid!", "One. Two. Three."),
    "paragraph_count": ({"kind": "paragraph_count", "n": 2}, "First part.\n***\nSecond part.",
                        "First part.\n\nSecond part."),
    "line_count": ({"kind": "line_count", "n": 3}, "a\nb\n\nc", "a\nb"),
    "include_keywords": ({"kind": "include_keywords", "keywords": ["sea", "blue"]}, "The seashore is Blue.",
                         "The ocean is blue."),
    "exclude_keywords": ({"kind": "exclude_keywords", "keywords": ["rain"]}, "A rainy day.", "Rain again."),
    "keyword_frequency": ({"kind": "keyword_frequency", "keyword": "happy", "n": 2}, "Happy days, happy me.",
                          "A happy day."),
    "json_format": ({"kind": "json_format", "required_keys": ["name"]}, '```json\n{"name": "Ana"}\n```',
                    "{name: Ana}"),
    "json_equals": ({"kind": "json_equals", "value": {"name": "Ana", "age": 30}}, '{"age": 30, "name": "Ana"}',
                    '{"name": "Ana", "age": "30"}'),
    "bullet_count": ({"kind": "bullet_count", "n": 3}, "* apple\n- pear\n* plum", "* apple\n* pear\n**bold**"),
    "lowercase": ({"kind": "lowercase"}, "the sea is calm tonight.", "The sea is calm tonight."),
    "uppercase": ({"kind": "uppercase"}, "HELLO AND WELCOME TO OUR HOME", "HELLO and welcome"),
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
    "capital_word_frequency": ({"kind": "capital_word_frequency", "n": 2}, "I am A strong one", "Get STRONG today"),
    "quoted": ({"kind": "quoted"}, '"Fresh bread daily."', 'Fresh bread "daily".'),
    "postscript": ({"kind": "postscript"}, "See you soon.\nP.S. Bring cake.", "See you soon. Bring cake."),
    "response_language": ({"kind": "response_language", "language": "fr"},
                          "Bonjour tout le monde, comment allez-vous?", "Hello everyone, how are you today?"),
    "two_responses": ({"kind": "two_responses"}, "Paris.\n******\nIt is Paris.", "Paris.\n******\nParis."),
    "paragraph_first_word": ({"kind": "paragraph_first_word", "num_paragraphs": 2, "nth_paragraph": 2,
                              "first_word": "rain"}, "Clouds came.\n\n\"Rain, at last.\"", "Clouds came.\n\nSun."),
    "constrained_response": ({"kind": "constrained_response"}, "I checked twice. My answer is no.", "My answer: no."),
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


# kind -> (constraint with the project's older rule, an answer IFEval's rule and that rule judge differently)
RULE_CASES = {
    "sentence_count": ({"kind": "sentence_count", "n": 1, "rule": "punctuation"}, "Mr. Smith left."),
    "paragraph_count": ({"kind": "paragraph_count", "n": 2, "rule": "blank_lines"}, "First part.\n\nSecond part."),
    "include_keywords": ({"kind": "include_keywords", "keywords": ["rain"], "rule": "whole_words"}, "A rainy day."),
    "keyword_frequency": ({"kind": "keyword_frequency", "keyword": "rain", "n": 1, "rule": "whole_words"},
                          "Rainy, rainy days."),
    "bullet_count": ({"kind": "bullet_count", "n": 1, "rule": "marker_space"}, "- apple\n---\n-5 degrees"),
    "lowercase": ({"kind": "lowercase", "rule": "any_language"}, "el tiempo hoy es soleado y cálido."),
    "uppercase": ({"kind": "uppercase", "rule": "any_language"}, "GOOD MORNING! HAVE A GREAT DAY!"),
    "capital_word_frequency": ({"kind": "capital_word_frequency", "n": 2, "rule": "two_letters"},
                               "I am A TEAM player"),
    "postscript": ({"kind": "postscript", "marker": "P.S.", "rule": "line_start"}, "Bye. (P.S. call me)"),
}


def test_every_rule_has_a_case_where_it_differs_from_ifeval():
    assert set(RULE_CASES) == set(ifeval.RULES)
    for kind, (constraint, answer) in RULE_CASES.items():
        assert ifeval.constraint_problems(constraint) == [], kind
        default = {k: v for k, v in constraint.items() if k != "rule"}
        ours, theirs = ifeval.check_constraint(constraint, answer), ifeval.check_constraint(default, answer)
        assert ours[0] != theirs[0], (kind, ours, theirs)


@pytest.mark.parametrize("rule", ["ifeval", "any_language"])
def test_scripts_without_case_are_neither_lowercase_nor_uppercase(rule):
    for answer in ["ನನಗೆ ಪುಸ್ತಕಗಳನ್ನು ಓದಲು ಇಷ್ಟ.", "ਮੈਨੂੰ ਕਿਤਾਬਾਂ ਪੜ੍ਹਨਾ ਪਸੰਦ ਹੈ।", "我喜欢读书。", "12345"]:
        for kind in ("lowercase", "uppercase"):
            assert not ifeval.check_constraint({"kind": kind, "rule": rule}, answer)[0], (kind, answer)
    spanish = "el tiempo hoy es soleado y cálido."  # lowercase, but not English
    assert ifeval.check_constraint({"kind": "lowercase", "rule": rule}, spanish)[0] is (rule == "any_language")


def test_words_are_counted_in_every_script_as_ifeval_counts_them():
    # Runs of \w as Python's re sees them: a vowel sign is not a word character, so Punjabi words split at them.
    assert ifeval.check_constraint({"kind": "min_words", "n": 8}, "ਸਤਿ ਸ੍ਰੀ ਅਕਾਲ ਜੀ ਕਿਵੇਂ ਹੋ")[0]
    assert ifeval.check_constraint({"kind": "min_words", "n": 3}, "Привет, как дела?")[0]
    assert ifeval.check_constraint({"kind": "max_words", "n": 3}, "don't stop")[0]  # don, t, stop


def test_an_empty_answer_follows_no_constraint():
    for kind in ("no_commas", "exclude_keywords", "max_words"):
        constraint = {"kind": kind, "keywords": ["x"]} if kind == "exclude_keywords" else {"kind": kind}
        constraint |= {"n": 5} if kind == "max_words" else {}
        assert ifeval.check_constraint(constraint, "  \n") == (False, "empty answer")


@pytest.mark.parametrize("constraint,problem", [
    ({"kind": "response_language", "language": "english"}, "langdetect code"),
    ({"kind": "paragraph_first_word", "num_paragraphs": 2, "nth_paragraph": 3, "first_word": "rain"},
     "between 1 and num_paragraphs"),
    ({"kind": "paragraph_first_word", "num_paragraphs": 2, "nth_paragraph": 1, "first_word": "two words"},
     "one word"),
    ({"kind": "constrained_response", "options": []}, "non-empty list"),
    ({"kind": "letter_frequency", "letter": "ab", "n": 1}, "single letter"),
    ({"kind": "paragraph_count", "n": 2, "rule": "paragraphs"}, "rule must be one of"),
    ({"kind": "bullet_count", "n": -1}, "must be >= 0"),
    ({"kind": "two_responses", "separator": "---"}, "unknown param"),
])
def test_constraint_problems_reports_bad_values(constraint, problem):
    problems = ifeval.constraint_problems(constraint)
    assert len(problems) == 1 and problem in problems[0], problems


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
