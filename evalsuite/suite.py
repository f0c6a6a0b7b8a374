"""The evaluation suite: schema, loader and validator for assets/eval/suite.jsonl.

Usage:

    from evalsuite.suite import load_suite, read_rows, select_queries, validate_suite
    queries = load_suite()                        # list[Query], raises ValueError listing every problem
    short = select_queries(queries, 12)           # about 12 queries, every category represented
    problems = validate_suite(read_rows(path))    # ["line 3: paraphrases: needs at least 3 distinct phrasings"]
    python -m evalsuite.suite [PATH]              # prints the problems (exit 1) or a per-category count

One JSON object per line (schema in assets/eval/README.md):
    id, category, suite_version, paraphrases (>= 3 distinct phrasings of one task, the first canonical),
    input (optional, the data the task works on), check ({"type": exact|numeric|constraints|code, ...}),
    expected ({"stage1": ..., "stage2": ..., "stage3": ...}: what each training stage should do here),
    source (optional: where the item comes from), notes (optional).
"""

import json
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from evalsuite.ifeval import constraint_problems

SUITE_PATH = Path(__file__).resolve().parent.parent / "assets" / "eval" / "suite.jsonl"
CATEGORIES = ("factual", "reasoning", "instruction_following", "creative", "code", "paraphrase")
CHECK_TYPES = ("exact", "numeric", "constraints", "code")
EXPECTED_NOTE_STAGES = ("stage1", "stage2", "stage3")  # the keys of `expected`: one note per training stage
MIN_PER_CATEGORY = 6
MIN_PARAPHRASES = 3
REQUIRED = ("id", "category", "suite_version", "paraphrases", "check", "expected")
OPTIONAL = ("input", "source", "notes")
# Which check a category may use: constraints for instruction following and creative, tests for code.
CATEGORY_CHECKS = {
    "factual": {"exact", "numeric"},
    "reasoning": {"exact", "numeric"},
    "instruction_following": {"constraints"},
    "creative": {"constraints"},
    "code": {"code"},
    "paraphrase": {"exact", "numeric", "constraints"},
}


@dataclass
class Query:
    id: str
    category: str
    paraphrases: list[str]
    check: dict
    expected: dict
    suite_version: str
    input: str | None = None
    source: str | None = None
    notes: str | None = None

    @property
    def canonical(self) -> str:
        return self.paraphrases[0]

    def user_message(self, i: int = 0) -> str:
        """Paraphrase i as one chat message: the instruction, then the input (if any) after a blank line."""
        text = self.paraphrases[i]
        return f"{text}\n\n{self.input}" if self.input else text


def read_rows(path: str | Path = SUITE_PATH) -> list[dict]:
    """Parse the JSONL file; a line that is not a JSON object becomes {"_error": reason} so validation reports it."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            rows.append({"_blank": True})
            continue
        try:
            row = json.loads(line)
        except ValueError as e:
            row = {"_error": f"not valid JSON ({e})"}
        rows.append(row if isinstance(row, dict) else {"_error": "not a JSON object"})
    return rows


def _normalise(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


def _check_problems(check, category: str) -> list[str]:
    if not isinstance(check, dict) or check.get("type") not in CHECK_TYPES:
        return [f"check: type must be one of {CHECK_TYPES}"]
    kind, out = check["type"], []
    if kind not in CATEGORY_CHECKS.get(category, set(CHECK_TYPES)):
        out.append(f"check: type '{kind}' not allowed for category '{category}'")
    if kind == "exact":
        answers = check.get("answers")
        if not (isinstance(answers, list) and answers and all(isinstance(a, str) and a.strip() for a in answers)):
            out.append("check: exact needs 'answers', a non-empty list of strings")
        if not isinstance(check.get("distractors", []), list):
            out.append("check: 'distractors' must be a list of strings")
    elif kind == "numeric":
        if not isinstance(check.get("answer"), (int, float)) or isinstance(check.get("answer"), bool):
            out.append("check: numeric needs a number 'answer'")
        if not isinstance(check.get("units", []), list):
            out.append("check: 'units' must be a list of strings")
    elif kind == "constraints":
        cons = check.get("constraints")
        if not (isinstance(cons, list) and cons):
            return out + ["check: constraints needs a non-empty 'constraints' list"]
        out += [f"check: constraint {i + 1}: {p}" for i, c in enumerate(cons) for p in constraint_problems(c)]
    elif kind == "code":
        out += _code_check_problems(check)
    return out


def check_problems(check) -> list[str]:
    """Problems with one check on its own, as "check: problem" (the GRPO prompts of trainers/data.py use it)."""
    return _check_problems(check, "")


def _code_check_problems(check: dict) -> list[str]:
    out = []
    if not (isinstance(check.get("function"), str) and check["function"].isidentifier()):
        out.append("check: code needs 'function', a Python identifier")
    tests = check.get("tests")
    if not (isinstance(tests, list) and tests and all(isinstance(t, str) for t in tests)):
        return out + ["check: code needs 'tests', a non-empty list of Python statements"]
    for i, t in enumerate(tests):
        try:
            compile(t, f"test_{i}", "exec")
        except SyntaxError as e:
            out.append(f"check: test {i + 1} is not valid Python ({e.msg})")
    return out


def _row_problems(row: dict) -> list[str]:
    """Problems with one row, as "field: problem" (no line number)."""
    if "_error" in row:
        return [f"json: {row['_error']}"]
    out = [f"{k}: missing" for k in REQUIRED if k not in row]
    out += [f"{k}: unknown field" for k in row if k not in REQUIRED + OPTIONAL]
    if not isinstance(row.get("id", ""), str) or not row.get("id", "x"):
        out.append("id: must be a non-empty string")
    category = row.get("category")
    if "category" in row and category not in CATEGORIES:
        out.append(f"category: '{category}' is not one of {CATEGORIES}")
    paras = row.get("paraphrases")
    if "paraphrases" in row:
        if not (isinstance(paras, list) and all(isinstance(p, str) and p.strip() for p in paras)):
            out.append("paraphrases: must be a list of non-empty strings")
        elif len({_normalise(p) for p in paras}) < MIN_PARAPHRASES:
            out.append(f"paraphrases: needs at least {MIN_PARAPHRASES} distinct phrasings, has "
                       f"{len({_normalise(p) for p in paras})}")
    if "input" in row and not isinstance(row["input"], str):
        out.append("input: must be a string")
    if "check" in row:
        out += _check_problems(row["check"], category)
        fn = row["check"].get("function") if isinstance(row["check"], dict) else None
        if isinstance(fn, str) and isinstance(paras, list):
            out += [f"paraphrases: phrasing {i + 1} does not name the function {fn}()"
                    for i, p in enumerate(paras) if isinstance(p, str) and fn not in p + (row.get("input") or "")]
    expected = row.get("expected")
    if "expected" in row and not (isinstance(expected, dict) and all(
            isinstance(expected.get(s), str) and expected[s].strip() for s in EXPECTED_NOTE_STAGES)):
        out.append(f"expected: needs a non-empty note for each of {EXPECTED_NOTE_STAGES}")
    return out


def validate_suite(rows: list[dict]) -> list[str]:
    """Every problem in the suite, as "line N: field: problem" (suite-wide ones as "suite: ..."); [] = valid."""
    problems = []
    for n, row in enumerate(rows, 1):
        if row.get("_blank"):
            continue
        problems += [f"line {n}: {p}" for p in _row_problems(row)]
    real = [(n, r) for n, r in enumerate(rows, 1) if not r.get("_blank") and "_error" not in r]
    seen = {}
    for n, r in real:
        if r.get("id") in seen:
            problems.append(f"line {n}: id: duplicate of line {seen[r['id']]}")
        seen.setdefault(r.get("id"), n)
    versions = {r.get("suite_version") for _, r in real}
    if len(versions) > 1:
        problems.append(f"line {real[0][0]}: suite_version: rows disagree ({sorted(map(str, versions))})")
    counts = Counter(r.get("category") for _, r in real)
    for c in CATEGORIES:
        if counts[c] < MIN_PER_CATEGORY:
            problems.append(f"suite: category: '{c}' has {counts[c]} queries, needs at least {MIN_PER_CATEGORY}")
    return problems


def load_suite(path: str | Path = SUITE_PATH) -> list[Query]:
    """The validated suite as Query objects, in file order. Raises ValueError listing every problem."""
    rows = read_rows(path)
    problems = validate_suite(rows)
    if problems:
        raise ValueError(f"{path}: {len(problems)} problems:\n" + "\n".join(problems))
    fields = set(REQUIRED + OPTIONAL)
    return [Query(**{k: v for k, v in r.items() if k in fields}) for r in rows if not r.get("_blank")]


def select_queries(queries: list[Query], limit: int | None = None) -> list[Query]:
    """About `limit` queries, as evenly over the categories as they allow, each category's first ones, in category
    order of first appearance: a short run still covers every category (at least one query each). A category with
    fewer queries than its share gives all it has, and what it leaves goes to the others in equal shares (a
    remainder smaller than the open categories is not spent). No limit (or 0): all of them."""
    if not limit:
        return list(queries)
    by_category: dict[str, list[Query]] = {}
    for q in queries:
        by_category.setdefault(q.category, []).append(q)
    take = dict.fromkeys(by_category, 0)
    left, open_ = max(limit, len(by_category)), list(by_category)
    while open_ and (share := left // len(open_)):
        for category in list(open_):
            got = min(share, len(by_category[category]) - take[category])
            take[category] += got
            left -= got
            if take[category] == len(by_category[category]):
                open_.remove(category)
    return [q for category, qs in by_category.items() for q in qs[:take[category]]]


def suite_version(queries: list[Query]) -> str:
    return queries[0].suite_version if queries else "unknown"


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else SUITE_PATH
    found = validate_suite(read_rows(target))
    print("\n".join(found) if found else f"ok: {dict(Counter(q.category for q in load_suite(target)))}")
    sys.exit(1 if found else 0)
