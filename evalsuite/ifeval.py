"""IFEval-style verifiable constraints: does an answer obey "no commas", "exactly 3 bullets", ...?

A constraint is a dict with a `kind` and that kind's parameters, as written in assets/eval/suite.jsonl:

    {"kind": "bullet_count", "n": 3}
    {"kind": "max_words", "n": 20}
    {"kind": "letter_frequency", "letter": "z", "n": 3, "relation": "at_least"}

Usage:

    from evalsuite.ifeval import check_constraint, evaluate_constraints
    ok, why = check_constraint({"kind": "no_commas"}, "Hello there")       # strict, one constraint
    res = evaluate_constraints(constraints, answer)                        # strict + loose, all of them
    res["prompt_strict"], res["instruction_strict"], res["prompt_loose"], res["instruction_loose"]

Strict checks the answer as written. Loose (as in IFEval, Zhou et al. 2023) also accepts the answer with its
first line removed, its last line removed, both, and each of those with markdown '*' stripped, so that
"Sure! Here is my answer:" or a trailing "Hope this helps" does not fail an otherwise obedient answer.
Prompt-level accuracy = all constraints pass; instruction-level = fraction of constraints that pass.

Counting rules are deliberately simple and written next to each check (e.g. a sentence ends in . ! or ?).
CONSTRAINT_KINDS maps each kind to (check function, required params, optional params); suite.py validates
suite rows against it, so adding a kind here is all it takes to use it in the suite.
"""

import json
import re

RELATIONS = ("at_least", "at_most", "exactly")


def _compare(count: int, n: int, relation: str) -> bool:
    if relation == "at_least":
        return count >= n
    if relation == "at_most":
        return count <= n
    return count == n


def _counted(what: str, count: int, n: int, relation: str) -> tuple[bool, str]:
    ok = _compare(count, n, relation)
    return ok, f"{count} {what} ({relation.replace('_', ' ')} {n} required)"


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9']+(?:[-'][A-Za-z0-9']+)*", text)


def strip_code_fences(text: str) -> str:
    """Remove a surrounding ```lang ... ``` fence, which models add around JSON and code."""
    text = text.strip()
    m = re.match(r"^```[\w+-]*\s*\n?(.*?)\n?```\s*$", text, re.DOTALL)
    return m.group(1).strip() if m else text


# --- the checks: each takes the answer text and the constraint's params, returns (passed, why) ---


def min_words(text, n):
    return _counted("words", len(_words(text)), n, "at_least")


def max_words(text, n):
    return _counted("words", len(_words(text)), n, "at_most")


def sentence_count(text, n, relation="exactly"):
    # A sentence is a run of text ending in . ! or ? (or the end of the text); decimals like 3.5 do not split.
    parts = [p for p in re.split(r"(?<!\d)[.!?]+(?!\d)", text) if _words(p)]
    return _counted("sentences", len(parts), n, relation)


def paragraph_count(text, n, relation="exactly"):
    # Paragraphs are separated by one or more blank lines (IFEval uses '***'; blank lines suit small models).
    paras = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return _counted("paragraphs", len(paras), n, relation)


def line_count(text, n, relation="exactly"):
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return _counted("non-empty lines", len(lines), n, relation)


def include_keywords(text, keywords):
    missing = [k for k in keywords if not re.search(rf"\b{re.escape(k)}\b", text, re.IGNORECASE)]
    return (not missing), (f"missing keywords {missing}" if missing else f"all keywords present {keywords}")


def exclude_keywords(text, keywords):
    found = [k for k in keywords if re.search(rf"\b{re.escape(k)}\b", text, re.IGNORECASE)]
    return (not found), (f"forbidden keywords used {found}" if found else f"none of {keywords} used")


def keyword_frequency(text, keyword, n, relation="at_least"):
    count = len(re.findall(rf"\b{re.escape(keyword)}\b", text, re.IGNORECASE))
    return _counted(f"uses of '{keyword}'", count, n, relation)


def json_format(text, required_keys=()):
    try:
        value = json.loads(strip_code_fences(text))
    except ValueError as e:
        return False, f"not valid JSON ({e.__class__.__name__}: {str(e)[:60]})"
    if required_keys:
        if not isinstance(value, dict):
            return False, f"JSON is a {type(value).__name__}, expected an object with keys {list(required_keys)}"
        missing = [k for k in required_keys if k not in value]
        if missing:
            return False, f"JSON object lacks keys {missing}"
    return True, "valid JSON" + (f" with keys {list(required_keys)}" if required_keys else "")


def json_equals(text, value):
    # Extraction tasks: the answer must parse to exactly this JSON value (key order and spacing don't matter).
    try:
        got = json.loads(strip_code_fences(text))
    except ValueError:
        return False, "not valid JSON"
    if got == value:
        return True, "JSON equals the expected value"
    return False, f"JSON {json.dumps(got, separators=(',', ':'))[:80]} != expected {json.dumps(value)[:80]}"


def bullet_count(text, n, relation="exactly"):
    # Markdown bullets as IFEval counts them: lines starting with '* ' or '- ' (not '**bold**').
    bullets = re.findall(r"^\s*\*[^*].*$", text, re.MULTILINE) + re.findall(r"^\s*-\s.*$", text, re.MULTILINE)
    return _counted("bullet points", len(bullets), n, relation)


def lowercase(text):
    ok = text == text.lower() and any(c.isalpha() for c in text)
    return ok, "all lowercase" if ok else "has uppercase letters (or no letters)"


def uppercase(text):
    ok = text == text.upper() and any(c.isalpha() for c in text)
    return ok, "all uppercase" if ok else "has lowercase letters (or no letters)"


def starts_with(text, phrase):
    ok = text.strip().lower().startswith(phrase.lower())
    return ok, f"starts with '{phrase}'" if ok else f"does not start with '{phrase}' (starts '{text.strip()[:30]}')"


def ends_with(text, phrase):
    ok = text.strip().lower().endswith(phrase.lower())
    return ok, f"ends with '{phrase}'" if ok else f"does not end with '{phrase}' (ends '{text.strip()[-30:]}')"


def placeholder_count(text, n, relation="at_least"):
    return _counted("[placeholders]", len(re.findall(r"\[[^\[\]\n]+\]", text)), n, relation)


def title(text):
    # A title is wrapped in double angular brackets, e.g. <<Autumn Leaves>>.
    m = re.search(r"<<([^\n]+?)>>", text)
    ok = bool(m and m.group(1).strip())
    return ok, f"title <<{m.group(1)}>>" if ok else "no <<title>> found"


def section_count(text, n, marker="SECTION", relation="at_least"):
    # Sections start with the marker and a number, e.g. "SECTION 1"; text before the first marker is ignored.
    sections = re.split(rf"\s?{re.escape(marker)}\s?\d+\s?", text)
    return _counted(f"'{marker} X' sections", len(sections) - 1, n, relation)


def highlighted_sections(text, n, relation="at_least"):
    # Markdown highlights like *this* or **this**, as IFEval counts them.
    count = sum(1 for h in re.findall(r"\*[^\n*]+\*", text) if h.strip("*").strip())
    count += sum(1 for h in re.findall(r"\*\*[^\n*]+\*\*", text) if h.strip("*").strip())
    return _counted("*highlighted* sections", count, n, relation)


def no_commas(text):
    count = text.count(",")
    return count == 0, "no commas" if count == 0 else f"{count} commas"


def letter_frequency(text, letter, n, relation="at_least"):
    return _counted(f"letter '{letter}'", text.lower().count(letter.lower()), n, relation)


def capital_word_frequency(text, n, relation="at_least"):
    # Words in ALL CAPS of at least two letters (so "I" and "A" don't count).
    count = len([w for w in _words(text) if len(w) > 1 and w.isupper()])
    return _counted("ALL-CAPS words", count, n, relation)


def quoted(text):
    t = text.strip()
    ok = len(t) > 1 and t[0] in "\"“" and t[-1] in "\"”"
    return ok, "wrapped in double quotes" if ok else "not wrapped in double quotes"


def postscript(text, marker="P.S."):
    ok = re.search(rf"^\s*{re.escape(marker)}", text, re.MULTILINE | re.IGNORECASE) is not None
    return ok, f"has a '{marker}' postscript" if ok else f"no line starting with '{marker}'"


# kind -> (check, required params with their types, optional params with their types)
CONSTRAINT_KINDS = {
    "min_words": (min_words, {"n": int}, {}),
    "max_words": (max_words, {"n": int}, {}),
    "sentence_count": (sentence_count, {"n": int}, {"relation": str}),
    "paragraph_count": (paragraph_count, {"n": int}, {"relation": str}),
    "line_count": (line_count, {"n": int}, {"relation": str}),
    "include_keywords": (include_keywords, {"keywords": list}, {}),
    "exclude_keywords": (exclude_keywords, {"keywords": list}, {}),
    "keyword_frequency": (keyword_frequency, {"keyword": str, "n": int}, {"relation": str}),
    "json_format": (json_format, {}, {"required_keys": list}),
    "json_equals": (json_equals, {"value": object}, {}),
    "bullet_count": (bullet_count, {"n": int}, {"relation": str}),
    "lowercase": (lowercase, {}, {}),
    "uppercase": (uppercase, {}, {}),
    "starts_with": (starts_with, {"phrase": str}, {}),
    "ends_with": (ends_with, {"phrase": str}, {}),
    "placeholder_count": (placeholder_count, {"n": int}, {"relation": str}),
    "title": (title, {}, {}),
    "section_count": (section_count, {"n": int}, {"marker": str, "relation": str}),
    "highlighted_sections": (highlighted_sections, {"n": int}, {"relation": str}),
    "no_commas": (no_commas, {}, {}),
    "letter_frequency": (letter_frequency, {"letter": str, "n": int}, {"relation": str}),
    "capital_word_frequency": (capital_word_frequency, {"n": int}, {"relation": str}),
    "quoted": (quoted, {}, {}),
    "postscript": (postscript, {}, {"marker": str}),
}


def constraint_problems(constraint) -> list[str]:
    """Why a constraint dict is malformed (empty list if it is fine). Used by suite validation."""
    if not isinstance(constraint, dict) or "kind" not in constraint:
        return ["constraint must be an object with a 'kind'"]
    kind = constraint["kind"]
    if kind not in CONSTRAINT_KINDS:
        return [f"unknown constraint kind '{kind}' (known: {', '.join(sorted(CONSTRAINT_KINDS))})"]
    _, required, optional = CONSTRAINT_KINDS[kind]
    problems = [f"{kind}: missing param '{p}'" for p in required if p not in constraint]
    for p, v in constraint.items():
        expected = required.get(p) or optional.get(p)
        if p == "kind":
            continue
        if expected is None:
            problems.append(f"{kind}: unknown param '{p}'")
        elif expected is not object and (not isinstance(v, expected) or isinstance(v, bool)):
            problems.append(f"{kind}: param '{p}' must be {expected.__name__}")
        elif p == "relation" and v not in RELATIONS:
            problems.append(f"{kind}: relation must be one of {RELATIONS}")
    return problems


def check_constraint(constraint: dict, text: str) -> tuple[bool, str]:
    """Strict check of one constraint against the answer as written."""
    check, _, _ = CONSTRAINT_KINDS[constraint["kind"]]
    params = {k: v for k, v in constraint.items() if k != "kind"}
    return check(text, **params)


def loose_variants(text: str) -> list[str]:
    """The answer plus the IFEval loose rewrites: first/last line dropped, markdown '*' removed."""
    lines = text.split("\n")
    base = [text, "\n".join(lines[1:]).strip(), "\n".join(lines[:-1]).strip(), "\n".join(lines[1:-1]).strip()]
    return base + [t.replace("*", "") for t in base]


def evaluate_constraints(constraints: list[dict], text: str) -> dict:
    """Strict and loose verdicts per constraint, plus prompt-level and instruction-level accuracy."""
    variants = [v for v in loose_variants(text) if v.strip()] or [text]
    strict, loose, why = [], [], []
    for c in constraints:
        ok, reason = check_constraint(c, text)
        ok_loose = ok or any(check_constraint(c, v)[0] for v in variants[1:])
        strict.append(ok)
        loose.append(ok_loose)
        tag = "ok" if ok else ("ok (loose only)" if ok_loose else "FAIL")
        why.append(f"{c['kind']}: {tag}, {reason}")
    n = max(len(constraints), 1)
    return {
        "strict": strict,
        "loose": loose,
        "why": why,
        "prompt_strict": all(strict),
        "prompt_loose": all(loose),
        "instruction_strict": sum(strict) / n,
        "instruction_loose": sum(loose) / n,
    }
