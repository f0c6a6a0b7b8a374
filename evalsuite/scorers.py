"""Score one model answer against one suite query's `check`.

Usage:

    from evalsuite.suite import load_suite
    from evalsuite.scorers import score_answer, score_details
    query = load_suite()[0]
    score, passed, why = score_answer(query, "Paris.")   # score in [0, 1], why is a readable reason
    details = score_details(query, "Paris.")             # same plus `extra` (numeric strict/flexible, ifeval levels)
    scores, meaning = score_cells({"base": ["Paris", "Lyon"]}, expected="Paris")   # a grid of answers to one task

Check types (see assets/eval/README.md):
- exact: normalised alias match. The answer's first non-empty line passes if any alias appears in it as whole
  words after normalisation (lowercase, punctuation and articles removed). With `distractors` (e.g. "no" for a
  yes/no question) the alias or distractor that appears *first* decides, so "Yes, ... not no" passes.
- numeric: `flexible` = the last number anywhere in the answer equals the target (GSM8K-style); `strict` = the
  first line is just the number (a trailing '.' and the check's `units` allowed). The score is flexible; strict
  is reported in `why` and `extra`.
- constraints: IFEval's verifiable constraints (evalsuite/ifeval.py). Score = instruction-level strict accuracy
  (the fraction of the constraints that hold on the answer as written), passed = prompt-level strict (all of them
  hold); `extra` adds the loose levels (a constraint also holds if it does once the first/last line or markdown '*'
  is removed).
  For creative queries this is a constraint check only and says so: nothing here judges quality.
- code: the function is extracted from the answer and its tests run in evalsuite/sandbox.py.
  Score = fraction of tests passed, passed = all passed.
"""

import re
from collections import Counter

from evalsuite import ifeval, sandbox

ARTICLES = {"a", "an", "the"}
NUMBER_RE = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")


def normalize_text(text: str) -> str:
    """Lowercase, drop punctuation (keeping decimal points and thousands commas inside numbers) and articles."""
    text = text.lower().replace("₂", "2")
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 3,500 -> 3500
    text = re.sub(r"[^\w\s.]|(?<!\d)\.|\.(?!\d)|_", " ", text)  # keep '.' only between digits
    return " ".join(w for w in text.split() if w not in ARTICLES)


def first_line(text: str) -> str:
    return next((ln.strip() for ln in text.strip().splitlines() if ln.strip()), "")


def _find_word(needle: str, hay: str) -> int:
    """Position of normalised `needle` as whole words in normalised `hay`, or -1."""
    if not needle:
        return -1
    m = re.search(rf"(?<![\w.]){re.escape(needle)}(?![\w]|\.\d)", hay)
    return m.start() if m else -1


def score_exact(answer: str, answers: list[str], distractors: list[str] = ()) -> tuple[float, bool, str]:
    line = first_line(answer)
    hay = normalize_text(line)
    hits = [(pos, a, True) for a in answers if (pos := _find_word(normalize_text(a), hay)) >= 0]
    hits += [(pos, d, False) for d in distractors if (pos := _find_word(normalize_text(d), hay)) >= 0]
    if not hits:
        return 0.0, False, f"no accepted answer {answers[:4]} in first line '{line[:60]}'"
    pos, word, correct = min(hits)
    if correct:
        return 1.0, True, f"first line contains accepted answer '{word}'"
    return 0.0, False, f"first line gives '{word}' (a wrong answer) before any accepted answer"


def _number(s: str) -> float:
    return float(s.replace(",", ""))


def numeric_scores(answer: str, target: float, units: list[str] = (), tolerance: float = 1e-6) -> dict:
    """{"strict": first line is exactly the number (+ '.'/units), "flexible": last number in the text matches}."""
    numbers = NUMBER_RE.findall(answer)
    flexible = bool(numbers) and abs(_number(numbers[-1]) - target) <= tolerance
    line = first_line(answer).rstrip(".").strip()
    for unit in sorted(units, key=len, reverse=True):  # longest first so "km" is not cut to "k" by "m"
        if line.lower().endswith(unit.lower()):
            line = line[: -len(unit)].strip()
            break
    line = line.lstrip("$").strip()
    strict = NUMBER_RE.fullmatch(line) is not None and abs(_number(line) - target) <= tolerance
    return {"strict": strict, "flexible": flexible}


def score_numeric(answer: str, check: dict) -> tuple[float, bool, str, dict]:
    target = check["answer"]
    s = numeric_scores(answer, target, check.get("units", ()), check.get("tolerance", 1e-6))
    numbers = NUMBER_RE.findall(answer)
    last = numbers[-1] if numbers else "none"
    why = (
        f"flexible {'ok' if s['flexible'] else 'FAIL'} (last number {last}, target {target:g}); "
        f"strict {'ok' if s['strict'] else 'FAIL'} (first line '{first_line(answer)[:40]}')"
    )
    return float(s["flexible"]), s["flexible"], why, s


def score_constraints(answer: str, constraints: list[dict], creative: bool = False) -> tuple[float, bool, str, dict]:
    res = ifeval.evaluate_constraints(constraints, answer)
    met = sum(res["strict"])
    why = f"{met}/{len(constraints)} constraints met (strict): " + "; ".join(res["why"])
    if creative:
        why = "constraint check only, not quality: " + why
    extra = {k: res[k] for k in ("prompt_strict", "prompt_loose", "instruction_strict", "instruction_loose")}
    return res["instruction_strict"], res["prompt_strict"], why, extra


def score_code(answer: str, check: dict) -> tuple[float, bool, str, dict]:
    code = sandbox.extract_code(answer, check["function"])
    r = sandbox.run_code_tests(code, check["function"], check["tests"])
    extra = {"tests_passed": r.passed, "tests_total": r.total}
    return (r.passed / r.total if r.total else 0.0), r.ok, r.reason, extra


def _field(query, name):
    return query[name] if isinstance(query, dict) else getattr(query, name)


def score_details(query, answer: str) -> dict:
    """Score with the extra numbers: {"score", "passed", "why", "extra"}. `query` is a Query or a suite row dict."""
    check = _field(query, "check")
    kind = check["type"]
    extra = {}
    if kind == "exact":
        score, passed, why = score_exact(answer, check["answers"], check.get("distractors", ()))
    elif kind == "numeric":
        score, passed, why, extra = score_numeric(answer, check)
    elif kind == "constraints":
        creative = _field(query, "category") == "creative"
        score, passed, why, extra = score_constraints(answer, check["constraints"], creative)
    elif kind == "code":
        score, passed, why, extra = score_code(answer, check)
    else:
        raise ValueError(f"unknown check type {kind!r}")
    return {"score": float(score), "passed": bool(passed), "why": why, "extra": extra}


def score_answer(query, answer: str) -> tuple[float, bool, str]:
    """(score in [0, 1], passed, why) for one answer, dispatching on the query's check type."""
    d = score_details(query, answer)
    return d["score"], d["passed"], d["why"]


def score_cells(answers: dict[str, list[str]], query=None, expected: str = "") -> tuple[dict, str]:
    """({model: [(score, passed)] per answer}, what a pass means) for many answers to one task (the Paraphrase
    test): the suite query's check when there is one, else containing `expected`, else agreeing with the model's
    majority first line."""
    scores = {}
    for model, outs in answers.items():
        if query is not None:
            scores[model] = [score_answer(query, a)[:2] for a in outs]
        elif expected:
            scores[model] = [score_exact(a, [expected])[:2] for a in outs]
        else:
            normal = [normalize_text(a.strip().splitlines()[0] if a.strip() else "") for a in outs]
            majority = Counter(n for n in normal if n).most_common(1)[0][0] if any(normal) else ""
            # an empty answer agrees with nothing: a model that says nothing everywhere is not "consistent"
            scores[model] = [(float(bool(n) and n == majority), bool(n) and n == majority) for n in normal]
    meaning = (f"passes the suite's check for {_field(query, 'id')}" if query is not None else
               f"contains the expected answer '{expected}'" if expected else "agrees with the model's majority answer")
    return scores, meaning
