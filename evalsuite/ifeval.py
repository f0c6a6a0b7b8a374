"""IFEval-style verifiable constraints: does an answer obey "no commas", "exactly 3 bullets", ...?

A constraint is a dict with a `kind` and that kind's parameters, as written in assets/eval/suite.jsonl:

    {"kind": "bullet_count", "n": 3}
    {"kind": "max_words", "n": 20}
    {"kind": "letter_frequency", "letter": "z", "n": 3, "relation": "at_least"}
    {"kind": "paragraph_count", "n": 2, "rule": "blank_lines"}

Usage:

    from evalsuite.ifeval import check_constraint, evaluate_constraints
    ok, why = check_constraint({"kind": "no_commas"}, "Hello there")       # strict, one constraint
    res = evaluate_constraints(constraints, answer)                        # strict + loose, all of them
    res["prompt_strict"], res["instruction_strict"], res["prompt_loose"], res["instruction_loose"]

The four IFEval numbers (Zhou et al. 2023), one line each:
- strict: the constraint holds on the answer exactly as written.
- loose: it holds on the answer or on a variant of it with the first line, the last line or both removed, and/or
  every markdown '*' removed, so "Sure! Here is my answer:" or a trailing "Hope this helps" does not fail it.
- prompt-level: an answer passes only if all of its prompt's constraints hold (a 0/1 per answer).
- instruction-level: the fraction of the prompt's constraints that hold (each constraint counts on its own).

Each check counts as IFEval's own checker does (lm-eval's `lm_eval/tasks/ifeval`; our own code, measured against
it by tests/test_eval_ifeval_agreement.py); `IFEVAL_NAMES` gives each kind's IFEval instruction. An empty answer
follows no constraint. Where this project used a different rule before and it is still worth having, the kind takes
`rule`, default "ifeval":

    kind                     rule           what it counts instead
    sentence_count           punctuation    runs ending in . ! or ? (not inside numbers like 3.5); IFEval: Punkt
    paragraph_count          blank_lines    blocks separated by blank lines; IFEval: separated by a *** line
    include_keywords,        whole_words    the keyword as whole words; IFEval: anywhere, also inside a longer
      keyword_frequency                     word ("rain" in "rainy")
    bullet_count             marker_space   lines starting "* " or "- "; IFEval: "*" then any non-* character,
                                            or "-" then anything (so a "---" rule counts)
    lowercase, uppercase     any_language   the case only; IFEval: also detected as English by langdetect
    capital_word_frequency   two_letters    ALL-CAPS words of 2+ letters; IFEval: any token, "I" and "A" too
    postscript               line_start     a line starting with the marker; IFEval: the marker anywhere

Counting rules where IFEval's are not obvious: words are runs of \\w ("don't" is 2); sentences follow nltk's
English Punkt ("Mr. Smith" does not end one; see ifeval_text.py); `**bold**` is one highlighted section, `*a*` one;
JSON may sit in ``` or ```json fences; `ends_with` ignores surrounding double quotes; a `[placeholder]` may be empty.
IFEval's "less than n" is `at_most` n - 1 here, its "at least" `at_least`; `exactly` is this project's. Language and
case checks load langdetect on first use (about a second).
CONSTRAINT_KINDS maps each kind to (check function, required params, optional params); suite.py validates suite rows
against it (and `constraint_problems`), so adding a kind here is all it takes to use it in the suite.
"""

import json
import re

from evalsuite.ifeval_text import LANGDETECT_CODES, capital_words, count_sentences, detect_language, words

RELATIONS = ("at_least", "at_most", "exactly")
CONSTRAINED_RESPONSE_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


def _compare(count: int, n: int, relation: str) -> bool:
    if relation == "at_least":
        return count >= n
    if relation == "at_most":
        return count <= n
    return count == n


def _counted(what: str, count: int, n: int, relation: str) -> tuple[bool, str]:
    ok = _compare(count, n, relation)
    return ok, f"{count} {what} ({relation.replace('_', ' ')} {n} required)"


def strip_code_fences(text: str) -> str:
    """Remove a surrounding ```lang ... ``` fence, which models add around JSON and code."""
    text = text.strip()
    m = re.match(r"^```[\w+-]*\s*\n?(.*?)\n?```\s*$", text, re.DOTALL)
    return m.group(1).strip() if m else text


# --- the checks: each takes the answer text and the constraint's params, returns (passed, why) ---


def min_words(text, n):
    return _counted("words", len(words(text)), n, "at_least")


def max_words(text, n):
    return _counted("words", len(words(text)), n, "at_most")


def sentence_count(text, n, relation="exactly", rule="ifeval"):
    if rule == "punctuation":  # decimals like 3.5 do not split
        count = len([p for p in re.split(r"(?<!\d)[.!?]+(?!\d)", text) if words(p)])
    else:
        count = count_sentences(text)
    return _counted("sentences", count, n, relation)


def _ifeval_paragraphs(text: str) -> list[str] | None:
    # Paragraphs between *** dividers; empty ones at the ends are dropped, an empty one inside breaks the format.
    parts = re.split(r"\s?\*\*\*\s?", text)
    if any(not p.strip() for p in parts[1:-1]):
        return None
    return [p for p in parts if p.strip()]


def paragraph_count(text, n, relation="exactly", rule="ifeval"):
    if rule == "blank_lines":
        return _counted("paragraphs", len([p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]), n, relation)
    paras = _ifeval_paragraphs(text)
    if paras is None:
        return False, "an empty paragraph between two *** dividers"
    return _counted("paragraphs (separated by ***)", len(paras), n, relation)


def line_count(text, n, relation="exactly"):
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return _counted("non-empty lines", len(lines), n, relation)


def _keyword_pattern(keyword: str, rule: str) -> str:
    return rf"\b{re.escape(keyword)}\b" if rule == "whole_words" else re.escape(keyword)


def include_keywords(text, keywords, rule="ifeval"):
    missing = [k for k in keywords if not re.search(_keyword_pattern(k, rule), text, re.IGNORECASE)]
    return (not missing), (f"missing keywords {missing}" if missing else f"all keywords present {keywords}")


def exclude_keywords(text, keywords):
    # Whole words, as IFEval's forbidden_words: "rainy" does not break "no 'rain'".
    found = [k for k in keywords if re.search(rf"\b{re.escape(k)}\b", text, re.IGNORECASE)]
    return (not found), (f"forbidden keywords used {found}" if found else f"none of {keywords} used")


def keyword_frequency(text, keyword, n, relation="at_least", rule="ifeval"):
    count = len(re.findall(_keyword_pattern(keyword, rule), text, re.IGNORECASE))
    return _counted(f"uses of '{keyword}'", count, n, relation)


def _json_body(text: str) -> str:
    # IFEval strips one ``` / ```json fence at each end (an unclosed fence too), nothing fancier.
    body = text.strip()
    for prefix in ("```json", "```Json", "```JSON", "```"):
        if body.startswith(prefix):
            body = body[len(prefix):]
            break
    return body.removesuffix("```").strip()


def json_format(text, required_keys=()):
    try:
        value = json.loads(_json_body(text))
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


def bullet_count(text, n, relation="exactly", rule="ifeval"):
    if rule == "marker_space":
        stars, dashes = r"^\s*\*[^*].*$", r"^\s*-\s.*$"
    else:  # IFEval: '*' then anything but '*' (so not **bold**), or '-' then anything
        stars, dashes = r"^\s*\*[^\*].*$", r"^\s*-.*$"
    count = len(re.findall(stars, text, re.MULTILINE)) + len(re.findall(dashes, text, re.MULTILINE))
    return _counted("bullet points", count, n, relation)


def _case(text: str, upper: bool, rule: str) -> tuple[bool, str]:
    # str.isupper/islower need at least one cased letter, so Kannada or Chinese text is neither upper nor lower case.
    name = "uppercase" if upper else "lowercase"
    if not (text.isupper() if upper else text.islower()):
        return False, f"not all {name} (or no letters that have a case)"
    if rule == "any_language":
        return True, f"all {name}"
    language = detect_language(text)
    if language not in ("en", None):  # IFEval counts text langdetect cannot read as English
        return False, f"all {name}, but detected as '{language}', not English"
    return True, f"all {name}, English"


def lowercase(text, rule="ifeval"):
    return _case(text, upper=False, rule=rule)


def uppercase(text, rule="ifeval"):
    return _case(text, upper=True, rule=rule)


def starts_with(text, phrase):
    ok = text.strip().lower().startswith(phrase.lower())
    return ok, f"starts with '{phrase}'" if ok else f"does not start with '{phrase}' (starts '{text.strip()[:30]}')"


def ends_with(text, phrase):
    # As IFEval's end_checker: an answer wrapped in double quotes may end with the phrase inside them.
    ok = text.strip().strip('"').lower().endswith(phrase.strip().lower())
    return ok, f"ends with '{phrase}'" if ok else f"does not end with '{phrase}' (ends '{text.strip()[-30:]}')"


def placeholder_count(text, n, relation="at_least"):
    return _counted("[placeholders]", len(re.findall(r"\[.*?\]", text)), n, relation)


def title(text):
    # A title is wrapped in double angular brackets, e.g. <<Autumn Leaves>>; the longest <<...>> on a line counts.
    found = [t for t in re.findall(r"<<[^\n]+>>", text) if t.lstrip("<").rstrip(">").strip()]
    return (True, f"title {found[0][:40]}") if found else (False, "no <<title>> found")


def section_count(text, n, marker="SECTION", relation="at_least"):
    # Sections start with the marker and a number, e.g. "SECTION 1"; text before the first marker is ignored.
    sections = re.split(rf"\s?{re.escape(marker)}\s?\d+\s?", text)
    return _counted(f"'{marker} X' sections", len(sections) - 1, n, relation)


def highlighted_sections(text, n, relation="at_least"):
    # As IFEval: non-empty *single* highlights plus non-empty **double** ones; "**bold**" is one, not two.
    single = [h for h in re.findall(r"\*[^\n\*]*\*", text) if h.strip("*").strip()]
    double = [h for h in re.findall(r"\*\*[^\n\*]*\*\*", text) if h[2:-2].strip()]
    return _counted("*highlighted* sections", len(single) + len(double), n, relation)


def no_commas(text):
    count = text.count(",")
    return count == 0, "no commas" if count == 0 else f"{count} commas"


def letter_frequency(text, letter, n, relation="at_least"):
    return _counted(f"letter '{letter}'", text.lower().count(letter.lower()), n, relation)


def capital_word_frequency(text, n, relation="at_least", rule="ifeval"):
    if rule == "two_letters":  # emphasis, not "I" or "A": words with inner ' or - kept whole
        found = [w for w in re.findall(r"\w+(?:['-]\w+)*", text) if w.isupper() and sum(map(str.isalpha, w)) > 1]
    else:
        found = capital_words(text)
    return _counted("ALL-CAPS words", len(found), n, relation)


def quoted(text):
    t = text.strip()
    ok = len(t) > 1 and t[0] == '"' and t[-1] == '"'
    return ok, "wrapped in double quotes" if ok else 'not wrapped in straight double quotes (")'


def _postscript_pattern(marker: str) -> str:
    # IFEval lets "P.S." and "P.P.S" be spaced out ("p. s."); other markers match as written, any case.
    known = {"p.s.": r"p\.\s?s\.", "p.p.s": r"p\.\s?p\.\s?s", "p.p.s.": r"p\.\s?p\.\s?s"}
    return known.get(marker.strip().lower(), re.escape(marker.strip().lower()))


def postscript(text, marker="P.S.", rule="ifeval"):
    pattern = _postscript_pattern(marker)
    if rule == "line_start":
        ok = re.search(rf"^\s*{pattern}", text.lower(), re.MULTILINE) is not None
        return ok, f"has a '{marker}' postscript" if ok else f"no line starting with '{marker}'"
    ok = re.search(pattern, text.lower()) is not None
    return ok, f"has a '{marker}' postscript" if ok else f"no '{marker}' anywhere"


def response_language(text, language):
    # IFEval's rule: langdetect's guess for the whole answer; text it cannot read at all (no letters) passes.
    found = detect_language(text)
    ok = found in (language, None)
    return ok, f"detected language '{found or 'none'}' ({language} required)"


def two_responses(text):
    # Two different answers separated by ******; empty parts are allowed only before the first or after the last.
    parts = text.split("******")
    if any(not p.strip() for p in parts[1:-1]):
        return False, "an empty response between ****** separators"
    answers = [p.strip() for p in parts if p.strip()]
    if len(answers) != 2:
        return False, f"{len(answers)} responses separated by ****** (2 required)"
    if answers[0] == answers[1]:
        return False, "the two responses are the same"
    return True, "two different responses separated by ******"


def _first_word(paragraph: str) -> str:
    # IFEval: the first whitespace token, leading quotes dropped, cut at the first . , ? ! ' or ", lowercased.
    word = paragraph.split()[0].lstrip("'").lstrip('"')
    return re.split(r"[.,?!'\"]", word, maxsplit=1)[0].lower()


def paragraph_first_word(text, num_paragraphs, nth_paragraph, first_word):
    # Paragraphs are separated by "\n\n" exactly; the n-th counts empty pieces too (as IFEval indexes them).
    parts = text.split("\n\n")
    count = sum(1 for p in parts if p.strip())
    if nth_paragraph > count or not parts[nth_paragraph - 1].strip():
        return False, f"{count} paragraphs, no paragraph {nth_paragraph} to check"
    got = _first_word(parts[nth_paragraph - 1].strip())
    ok = count == num_paragraphs and got == first_word.lower()
    return ok, f"{count} paragraphs ({num_paragraphs} required), paragraph {nth_paragraph} starts '{got}'"


def constrained_response(text, options=CONSTRAINED_RESPONSE_OPTIONS):
    # IFEval: one of the options appears anywhere in the answer, exactly as written (case and full stop included).
    found = [o for o in options if o in text.strip()]
    return (True, f"answers '{found[0]}'") if found else (False, f"none of {list(options)} in the answer")


# kind -> (check, required params with their types, optional params with their types)
CONSTRAINT_KINDS = {
    "min_words": (min_words, {"n": int}, {}),
    "max_words": (max_words, {"n": int}, {}),
    "sentence_count": (sentence_count, {"n": int}, {"relation": str, "rule": str}),
    "paragraph_count": (paragraph_count, {"n": int}, {"relation": str, "rule": str}),
    "line_count": (line_count, {"n": int}, {"relation": str}),
    "include_keywords": (include_keywords, {"keywords": list}, {"rule": str}),
    "exclude_keywords": (exclude_keywords, {"keywords": list}, {}),
    "keyword_frequency": (keyword_frequency, {"keyword": str, "n": int}, {"relation": str, "rule": str}),
    "json_format": (json_format, {}, {"required_keys": list}),
    "json_equals": (json_equals, {"value": object}, {}),
    "bullet_count": (bullet_count, {"n": int}, {"relation": str, "rule": str}),
    "lowercase": (lowercase, {}, {"rule": str}),
    "uppercase": (uppercase, {}, {"rule": str}),
    "starts_with": (starts_with, {"phrase": str}, {}),
    "ends_with": (ends_with, {"phrase": str}, {}),
    "placeholder_count": (placeholder_count, {"n": int}, {"relation": str}),
    "title": (title, {}, {}),
    "section_count": (section_count, {"n": int}, {"marker": str, "relation": str}),
    "highlighted_sections": (highlighted_sections, {"n": int}, {"relation": str}),
    "no_commas": (no_commas, {}, {}),
    "letter_frequency": (letter_frequency, {"letter": str, "n": int}, {"relation": str}),
    "capital_word_frequency": (capital_word_frequency, {"n": int}, {"relation": str, "rule": str}),
    "quoted": (quoted, {}, {}),
    "postscript": (postscript, {}, {"marker": str, "rule": str}),
    "response_language": (response_language, {"language": str}, {}),
    "two_responses": (two_responses, {}, {}),
    "paragraph_first_word": (paragraph_first_word, {"num_paragraphs": int, "nth_paragraph": int, "first_word": str},
                             {}),
    "constrained_response": (constrained_response, {}, {"options": list}),
}

# kind -> the values `rule` may take, IFEval's first (the default); see the module docstring.
RULES = {
    "sentence_count": ("ifeval", "punctuation"),
    "paragraph_count": ("ifeval", "blank_lines"),
    "include_keywords": ("ifeval", "whole_words"),
    "keyword_frequency": ("ifeval", "whole_words"),
    "bullet_count": ("ifeval", "marker_space"),
    "lowercase": ("ifeval", "any_language"),
    "uppercase": ("ifeval", "any_language"),
    "capital_word_frequency": ("ifeval", "two_letters"),
    "postscript": ("ifeval", "line_start"),
}

# kind -> the IFEval instruction it checks (None: this project's own kind, IFEval has no such instruction)
IFEVAL_NAMES = {
    "min_words": "length_constraints:number_words", "max_words": "length_constraints:number_words",
    "sentence_count": "length_constraints:number_sentences", "paragraph_count": "length_constraints:number_paragraphs",
    "line_count": None, "include_keywords": "keywords:existence", "exclude_keywords": "keywords:forbidden_words",
    "keyword_frequency": "keywords:frequency", "json_format": "detectable_format:json_format", "json_equals": None,
    "bullet_count": "detectable_format:number_bullet_lists", "lowercase": "change_case:english_lowercase",
    "uppercase": "change_case:english_capital", "starts_with": None, "ends_with": "startend:end_checker",
    "placeholder_count": "detectable_content:number_placeholders", "title": "detectable_format:title",
    "section_count": "detectable_format:multiple_sections",
    "highlighted_sections": "detectable_format:number_highlighted_sections", "no_commas": "punctuation:no_comma",
    "letter_frequency": "keywords:letter_frequency", "capital_word_frequency": "change_case:capital_word_frequency",
    "quoted": "startend:quotation", "postscript": "detectable_content:postscript",
    "response_language": "language:response_language", "two_responses": "combination:two_responses",
    "paragraph_first_word": "length_constraints:nth_paragraph_first_word",
    "constrained_response": "detectable_format:constrained_response",
}


def _value_problems(kind: str, c: dict) -> list[str]:
    """Problems with the values of well-typed params (types are checked by constraint_problems)."""
    out = [f"{kind}: param '{p}' must be >= 0" for p in ("n", "num_paragraphs") if c.get(p, 0) < 0]
    if "rule" in c and c["rule"] not in RULES.get(kind, ()):
        out.append(f"{kind}: rule must be one of {RULES[kind]}")
    for p in ("keywords", "options", "required_keys"):
        if p in c and not (c[p] and all(isinstance(k, str) and k.strip() for k in c[p])):
            out.append(f"{kind}: param '{p}' must be a non-empty list of non-empty strings")
    if kind == "letter_frequency" and not (len(c["letter"]) == 1 and c["letter"].isalpha()):
        out.append(f"{kind}: letter must be a single letter (got '{c['letter']}')")
    if kind == "response_language" and c["language"] not in LANGDETECT_CODES:
        out.append(f"{kind}: language must be a langdetect code such as en, fr, hi (got '{c['language']}')")
    if kind == "paragraph_first_word":
        if not 1 <= c["nth_paragraph"] <= c["num_paragraphs"]:
            out.append(f"{kind}: nth_paragraph must be between 1 and num_paragraphs ({c['num_paragraphs']})")
        if len(c["first_word"].split()) != 1:
            out.append(f"{kind}: first_word must be one word (got '{c['first_word']}')")
    return out


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
    return problems or _value_problems(kind, constraint)


def check_constraint(constraint: dict, text: str) -> tuple[bool, str]:
    """Strict check of one constraint against the answer as written."""
    if not text.strip():
        return False, "empty answer"  # IFEval: an empty answer follows no instruction, not even "no commas"
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
    variants = loose_variants(text)[1:]
    strict, loose, why = [], [], []
    for c in constraints:
        ok, reason = check_constraint(c, text)
        ok_loose = ok or any(check_constraint(c, v)[0] for v in variants)
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
