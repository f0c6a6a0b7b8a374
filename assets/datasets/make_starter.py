"""Generate the starter datasets the playground ships: Stage 1 SFT, Stage 2 instruction tuning, preference pairs (DPO)
and prompts with a check (GRPO).

Run from the repository root (stdlib only, deterministic: the same seed gives byte-identical files):

    python assets/datasets/make_starter.py            # rewrites the files next to this script
    python assets/datasets/make_starter.py --out DIR  # writes them somewhere else

It writes stage1_sft.jsonl, stage2_instruction.jsonl, preference.jsonl, grpo_prompts.jsonl and heldout_items.json.
Eight small task families (arithmetic, unit_conversion, sentiment, reverse_words, json_extraction, code, capitals,
antonyms) have short, exact answers, so a 135M model learns them in ~100 steps on CPU and a scorer can check them by
string match. Stage 1 uses ONE prompt phrasing per family (so it stays brittle to paraphrases); Stage 2 uses many
phrasings, with the variable part in `input` for about half the rows. HELDOUT_ITEMS never appear in any training file,
so an evaluation suite can test on unseen items.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SEED = 20240611
OUT_DIR = Path(__file__).resolve().parent
STAGE1_ROWS_PER_FAMILY = 48
STAGE2_ROWS_PER_FAMILY = 60
PREFERENCE_ROWS_PER_FAMILY = 40
GRPO_ROWS_PER_FAMILY = 12
GRPO_CONSTRAINT_ROWS = 16


sys.path.insert(0, str(Path(__file__).resolve().parent))  # the vocabulary module sits beside this script
from starter_vocab import (  # noqa: E402
    NAMES,
    CITIES,
    THINGS,
    CONVERSIONS,
    UNIT_VALUES,
    PRODUCTS,
    REVIEW_OPENERS,
    POSITIVE_PHRASES,
    NEGATIVE_PHRASES,
    POSITIVE_CLOSERS,
    NEGATIVE_CLOSERS,
    PHRASE_WORDS,
    CODE_OPS,
    CAPITALS,
    ANTONYMS,
    HELDOUT_ITEMS,
    STAGE1_TEMPLATES,
    STAGE2_PHRASINGS,
    RAMBLE_TEMPLATES,
    CODE_RAMBLE_TEMPLATES,
    ARITHMETIC_STORIES,
    UNIT_FACTORS,
    CONFIDENT_WRONG_TEMPLATES,
    CONSTRAINT_RULES,
    GRPO_CONSTRAINT_PROMPTS,
)


# ---------------------------------------------------------------------------------------------------------------
# Families. A "raw" item holds only what varies (the same shape as HELDOUT_ITEMS entries); build_* adds the
# fields the templates use plus `input` (the Stage 2 input text) and `answer` (the exact expected output).
# ---------------------------------------------------------------------------------------------------------------


def format_number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def sample_arithmetic(rng: random.Random) -> dict:
    op = rng.choice(sorted(ARITHMETIC_STORIES))
    if op == "add":
        a, b = rng.randint(2, 50), rng.randint(2, 50)
    elif op == "sub":
        a = rng.randint(10, 60)
        b = rng.randint(1, a - 1)
    elif op == "mul":
        a, b = rng.randint(2, 9), rng.randint(2, 12)
    else:  # division built from its answer so it is always exact
        b = rng.randint(2, 9)
        a = b * rng.randint(2, 10)
    return {"op": op, "a": a, "b": b, "name": rng.choice(NAMES), "thing": rng.choice(THINGS)}


def build_arithmetic(raw: dict) -> dict:
    a, b = raw["a"], raw["b"]
    answer = {"add": a + b, "sub": a - b, "mul": a * b, "div": a // b}[raw["op"]]
    problem = ARITHMETIC_STORIES[raw["op"]].format(**raw)
    return {**raw, "problem": problem, "input": problem, "answer": str(answer)}


def wrong_arithmetic(item: dict, rng: random.Random) -> str:
    n, offset = int(item["answer"]), rng.choice([-3, -2, -1, 1, 2, 3, 10])
    return str(n + offset if n + offset >= 0 else n - offset)


def sample_unit_conversion(rng: random.Random) -> dict:
    src, dst, _ = rng.choice(CONVERSIONS)
    return {"value": rng.choice(UNIT_VALUES), "src": src, "dst": dst}


def build_unit_conversion(raw: dict) -> dict:
    amount = format_number(raw["value"])  # "3.5", "7": how the quantity is written in prompts
    result = format_number(raw["value"] * UNIT_FACTORS[raw["src"], raw["dst"]])
    return {
        **raw,
        "amount": amount,
        "input": f"{amount} {raw['src']} to {raw['dst']}",
        "answer": f"{result} {raw['dst']}",
    }


def wrong_unit_conversion(item: dict, rng: random.Random) -> str:
    # The classic slip: a factor that is off by ten.
    factor = UNIT_FACTORS[item["src"], item["dst"]] * rng.choice([10, 0.1])
    return f"{format_number(round(item['value'] * factor, 2))} {item['dst']}"


def sample_sentiment(rng: random.Random) -> dict:
    label = rng.choice(["positive", "negative"])
    phrases, closers = (
        (POSITIVE_PHRASES, POSITIVE_CLOSERS) if label == "positive" else (NEGATIVE_PHRASES, NEGATIVE_CLOSERS)
    )
    review = rng.choice(REVIEW_OPENERS).format(product=rng.choice(PRODUCTS)) + f" {rng.choice(phrases)}."
    if rng.random() < 0.67:
        review += f" {rng.choice(closers)}"
    return {"review": review, "label": label}


def build_sentiment(raw: dict) -> dict:
    return {**raw, "input": raw["review"], "answer": raw["label"]}


def wrong_sentiment(item: dict, rng: random.Random) -> str:
    return "negative" if item["label"] == "positive" else "positive"


def sample_reverse_words(rng: random.Random) -> dict:
    return {"phrase": " ".join(rng.sample(PHRASE_WORDS, rng.randint(3, 5)))}


def build_reverse_words(raw: dict) -> dict:
    return {**raw, "input": raw["phrase"], "answer": " ".join(reversed(raw["phrase"].split()))}


def wrong_reverse_words(item: dict, rng: random.Random) -> str:
    return item["phrase"]  # echoing the input unchanged is the typical failure of an untrained model


def sample_json_extraction(rng: random.Random) -> dict:
    return {"name": rng.choice(NAMES), "age": rng.randint(18, 79), "city": rng.choice(CITIES)}


def build_json_extraction(raw: dict) -> dict:
    record = f"Name: {raw['name']}, Age: {raw['age']}, City: {raw['city']}"
    answer = json.dumps({"name": raw["name"], "age": raw["age"], "city": raw["city"]})
    return {**raw, "record": record, "input": record, "answer": answer}


def wrong_json_extraction(item: dict, rng: random.Random) -> str:
    # Each variant breaks what a JSON scorer checks: value type, key names, completeness.
    name, age, city = item["name"], item["age"], item["city"]
    return rng.choice(
        [
            json.dumps({"name": name, "age": str(age), "city": city}),
            json.dumps({"Name": name, "Age": age, "City": city}),
            json.dumps({"name": name, "age": age}),
        ]
    )


def sample_code(rng: random.Random) -> dict:
    name, params, task, body = rng.choice(CODE_OPS)
    return {"name": name, "params": params, "task": task, "body": body}


def build_code(raw: dict) -> dict:
    signature = f"{raw['name']}({raw['params']})"
    return {
        **raw,
        "signature": signature,
        "input": f"{signature}: {raw['task']}",
        "answer": f"def {signature}:\n    {raw['body']}",
    }


def wrong_code(item: dict, rng: random.Random) -> str | None:
    # A plausible-looking wrong body: another operation with the same parameters.
    bodies = [body for _, params, _, body in CODE_OPS if params == item["params"] and body != item["body"]]
    return f"def {item['signature']}:\n    {rng.choice(bodies)}" if bodies else None


def sample_capitals(rng: random.Random) -> dict:
    country, capital = rng.choice(CAPITALS)
    return {"country": country, "capital": capital}


def build_capitals(raw: dict) -> dict:
    return {**raw, "input": raw["country"], "answer": raw["capital"]}


def wrong_capitals(item: dict, rng: random.Random) -> str:
    return rng.choice([capital for _, capital in CAPITALS if capital != item["capital"]])


def sample_antonyms(rng: random.Random) -> dict:
    word, antonym = rng.choice(ANTONYMS)
    return {"word": word, "antonym": antonym}


def build_antonyms(raw: dict) -> dict:
    return {**raw, "input": raw["word"], "answer": raw["antonym"]}


def wrong_antonyms(item: dict, rng: random.Random) -> str:
    return rng.choice(sorted({a for _, a in ANTONYMS} - {item["antonym"], item["word"]}))


@dataclass(frozen=True)
class Family:
    name: str
    sample: Callable[[random.Random], dict]
    build: Callable[[dict], dict]
    # Everything an item "touches" that must stay unseen: a training item sharing any key with a held-out item is
    # dropped (e.g. an antonym pair is banned in both directions, a JSON record by its person's name).
    heldout_keys: Callable[[dict], set]
    wrong: Callable[[dict, random.Random], str | None]
    pool_size: int | None = None  # upper bound on distinct items in a finite family (None: effectively unbounded)


FAMILIES = [
    Family("arithmetic", sample_arithmetic, build_arithmetic, lambda r: {(r["op"], r["a"], r["b"])}, wrong_arithmetic),
    Family(
        "unit_conversion",
        sample_unit_conversion,
        build_unit_conversion,
        lambda r: {(float(r["value"]), r["src"], r["dst"])},
        wrong_unit_conversion,
        pool_size=len(UNIT_VALUES) * len(CONVERSIONS),
    ),
    Family("sentiment", sample_sentiment, build_sentiment, lambda r: {r["review"]}, wrong_sentiment),
    Family("reverse_words", sample_reverse_words, build_reverse_words, lambda r: {r["phrase"]}, wrong_reverse_words),
    Family(
        "json_extraction", sample_json_extraction, build_json_extraction, lambda r: {r["name"]}, wrong_json_extraction
    ),
    Family("code", sample_code, build_code, lambda r: {r["name"]}, wrong_code, pool_size=len(CODE_OPS)),
    Family(
        "capitals", sample_capitals, build_capitals, lambda r: {r["country"]}, wrong_capitals, pool_size=len(CAPITALS)
    ),
    Family(
        "antonyms",
        sample_antonyms,
        build_antonyms,
        lambda r: {r["word"], r["antonym"]},
        wrong_antonyms,
        pool_size=len(ANTONYMS),
    ),
]


# ---------------------------------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------------------------------


def banned_keys() -> dict[str, set]:
    by_name = {family.name: family for family in FAMILIES}
    return {
        name: set().union(*(by_name[name].heldout_keys(raw) for raw in items)) for name, items in HELDOUT_ITEMS.items()
    }


def draw_unique(count: int, make_row: Callable[[], tuple | None]) -> list[dict]:
    """Call make_row until `count` rows with distinct keys exist; make_row returns (key, row) or None to skip."""
    rows, seen = [], set()
    for _ in range(200 * count):
        made = make_row()
        if made is None or made[0] in seen:
            continue
        seen.add(made[0])
        rows.append(made[1])
        if len(rows) == count:
            return rows
    raise RuntimeError(f"could only draw {len(rows)} distinct rows of {count}")


def draw_item(family: Family, rng: random.Random, banned: dict[str, set]) -> dict | None:
    raw = family.sample(rng)
    return None if family.heldout_keys(raw) & banned[family.name] else family.build(raw)


def stage1_rows(rng: random.Random, banned: dict[str, set]) -> dict[str, list[dict]]:
    rows = {}
    for family in FAMILIES:
        template = STAGE1_TEMPLATES[family.name]

        def make_row(family=family, template=template):
            item = draw_item(family, rng, banned)
            if item is None:
                return None
            prompt = template.format(**item)
            return prompt, {"prompt": prompt, "output": item["answer"]}

        # Stage 1 has one phrasing, so a small pool (code) caps the family at one row per item.
        rows[family.name] = draw_unique(
            min(STAGE1_ROWS_PER_FAMILY, family.pool_size or STAGE1_ROWS_PER_FAMILY), make_row
        )
    return rows


def stage2_rows(rng: random.Random, banned: dict[str, set]) -> dict[str, list[dict]]:
    rows = {}
    for family in FAMILIES:
        phrasings = STAGE2_PHRASINGS[family.name]

        def make_row(family=family, phrasings=phrasings):
            item = draw_item(family, rng, banned)
            if item is None:
                return None
            separate, inline = rng.choice(phrasings)
            # Half the rows carry the item in `input`, half inline it, so both Stage 2 layouts are learned.
            if rng.random() < 0.5:
                instruction, input_text = separate, item["input"]
            else:
                instruction, input_text = inline.format(**item), ""
            row = {"instruction": instruction, "input": input_text, "response": item["answer"]}
            return (instruction, input_text), row

        rows[family.name] = draw_unique(STAGE2_ROWS_PER_FAMILY, make_row)
    return rows


def styled(style: str, answer: str) -> str:
    """A CONSTRAINT_RULES style applied to the right answer: as is, lower/upper case, or a template around it."""
    return {"same": answer, "lower": answer.lower(), "upper": answer.upper()}.get(style) or style.format(answer=answer)


def preference_rows(rng: random.Random, banned: dict[str, set]) -> dict[str, list[dict]]:
    """chosen: the right answer, concise. rejected, a third each: a wrong answer stated as fact, a constraint the
    prompt added broken (the right answer in the wrong form), or the right answer buried in filler."""
    rows = {}
    for family in FAMILIES:
        templates = [STAGE1_TEMPLATES[family.name]] + [inline for _, inline in STAGE2_PHRASINGS[family.name]]
        rules = [rule for rule in CONSTRAINT_RULES if family.name in rule[3]]

        def make_row(family=family, templates=templates, rules=rules):
            item = draw_item(family, rng, banned)
            if item is None:
                return None
            prompt, chosen, kind = rng.choice(templates).format(**item), item["answer"], rng.choice(
                ["wrong", "constraint", "ramble"])
            wrong = family.wrong(item, rng) if kind == "wrong" else None
            if wrong is not None:
                confident = family.name not in ("code", "json_extraction")  # no sentence around code or JSON
                rejected = rng.choice(CONFIDENT_WRONG_TEMPLATES).format(wrong=wrong) if confident else wrong
            elif kind == "constraint" and rules:
                suffix, keep,drop, _ = rng.choice(rules)
                # after a sentence, or on its own line after an item the prompt ends on (a phrase to reverse)
                joiner = " " if prompt.rstrip()[-1] in ".?!" else "\n"
                prompt, chosen, rejected = prompt + joiner + suffix.strip(), styled(keep, chosen), styled(drop, chosen)
            else:
                rambles = CODE_RAMBLE_TEMPLATES if family.name == "code" else RAMBLE_TEMPLATES
                rejected = rng.choice(rambles).format(answer=chosen)
            if rejected.strip() == chosen.strip():  # e.g. a reversed phrase that reads the same: no preference
                return None
            return prompt, {"prompt": prompt, "chosen": chosen, "rejected": rejected}

        rows[family.name] = draw_unique(PREFERENCE_ROWS_PER_FAMILY, make_row)
    return rows


# Arguments for the GRPO code prompts' tests, by parameter list; expected values come from running our own answer.
CODE_TEST_ARGS = {
    "a, b": [(2, 3), (7, 4), (10, 5)], "x": [(2,), (-3,), (5,)], "n": [(3,), (6,), (1,)], "side": [(2,), (5,)],
    "c": [(0,), (100,)], "w, h": [(2, 3), (5, 4)], "items": [([3, 1, 2],), ([5, 5, 8, 1],)],
    "items, x": [([1, 2, 3], 2), ([4, 5], 9)], "s": [("hello",), ("level",), ("Data Set",)],
    "s, n": [("abc", 2), ("hello", 3)],
}
PLAIN = (bool, int, float, str, list, tuple, dict, type(None))


def code_tests(item: dict) -> list[str]:
    """`assert f(args) == value` lines for one code item, the values computed by the item's own answer."""
    scope: dict = {}
    exec(item["answer"], scope)  # noqa: S102 -- our own constant, not user input
    tests = []
    for args in CODE_TEST_ARGS[item["params"]]:
        try:
            value = scope[item["name"]](*args)
        except Exception:  # an argument the task does not take (a zero divisor, ...): no test from it
            continue
        if isinstance(value, PLAIN):
            tests.append(f"assert {item['name']}({', '.join(map(repr, args))}) == {value!r}")
    return tests


def grpo_check(family: str, item: dict) -> dict | None:
    """The evaluation-suite check that scores a completion for one item (assets/eval/README.md)."""
    if family == "arithmetic":
        return {"type": "numeric", "answer": int(item["answer"])}
    if family == "unit_conversion":
        return {"type": "numeric", "answer": float(item["answer"].split()[0]), "units": [item["dst"]]}
    if family == "json_extraction":
        return {"type": "constraints", "constraints": [{"kind": "json_equals", "value": json.loads(item["answer"])}]}
    if family == "code":
        tests = code_tests(item)
        return {"type": "code", "function": item["name"], "tests": tests} if tests else None
    if family == "sentiment":
        other = "negative" if item["answer"] == "positive" else "positive"
        return {"type": "exact", "answers": [item["answer"]], "distractors": [other]}
    return {"type": "exact", "answers": [item["answer"]]}


def grpo_rows(rng: random.Random, banned: dict[str, set]) -> dict[str, list[dict]]:
    """Prompts with a verifiable target, {id, category, prompt, check}, for GRPO: every family's items in their
    Stage 1 or Stage 2 phrasings, plus prompts that ask for a form as well as a fact (GRPO_CONSTRAINT_PROMPTS)."""
    by_name, rows = {family.name: family for family in FAMILIES}, {}
    for family in FAMILIES:
        templates = [STAGE1_TEMPLATES[family.name]] + [inline for _, inline in STAGE2_PHRASINGS[family.name]]

        def make_row(family=family, templates=templates):
            item = draw_item(family, rng, banned)
            check = grpo_check(family.name, item) if item else None
            if check is None:
                return None
            prompt = rng.choice(templates).format(**item)
            return prompt, {"category": family.name, "prompt": prompt, "check": check}

        rows[family.name] = draw_unique(GRPO_ROWS_PER_FAMILY, make_row)

    def make_constraint_row():
        template, constraints, source = rng.choice(GRPO_CONSTRAINT_PROMPTS)
        item = draw_item(by_name[source], rng, banned)
        if item is None:
            return None
        filled = json.loads(json.dumps(constraints).replace("{answer}", item["answer"]))
        prompt = template.format(**item)
        return prompt, {"category": "constraints", "prompt": prompt,
                        "check": {"type": "constraints", "constraints": filled}}

    rows["constraints"] = draw_unique(GRPO_CONSTRAINT_ROWS, make_constraint_row)
    return rows


def with_ids(rows: list[dict]) -> list[dict]:
    counts: dict[str, int] = {}
    out = []
    for row in rows:
        counts[row["category"]] = counts.get(row["category"], 0) + 1
        out.append({"id": f"grpo-{row['category']}-{counts[row['category']]:02d}", **row})
    return out


def heldout_export() -> dict[str, list[dict]]:
    """HELDOUT_ITEMS with the built fields, the Stage 1 prompt and the exact answer, ready for an eval suite."""
    by_name = {family.name: family for family in FAMILIES}
    exported = {}
    for name, items in HELDOUT_ITEMS.items():
        built = [by_name[name].build(raw) for raw in items]
        exported[name] = [{**item, "prompt": STAGE1_TEMPLATES[name].format(**item)} for item in built]
    return exported


def require(condition: bool, message: str) -> None:
    # Not `assert`: these checks must survive `python -O`.
    if not condition:
        raise ValueError(message)


def check_constants() -> None:
    """Fail loudly if an edit to the tables above breaks a promise the datasets make."""
    names = [family.name for family in FAMILIES]
    require(names == list(STAGE1_TEMPLATES) == list(STAGE2_PHRASINGS) == list(HELDOUT_ITEMS), "family tables differ")
    for name, phrasings in STAGE2_PHRASINGS.items():
        require(len({p for pair in phrasings for p in pair}) == 2 * len(phrasings) >= 16, f"{name}: phrasings")
        require(STAGE1_TEMPLATES[name] not in {inline for _, inline in phrasings}, f"{name}: Stage 1 phrasing reused")
    heldout_names = {item["name"] for item in HELDOUT_ITEMS["json_extraction"] + HELDOUT_ITEMS["arithmetic"]}
    require(not heldout_names & set(NAMES), "held-out names leak into NAMES")
    heldout_cities = {item["city"] for item in HELDOUT_ITEMS["json_extraction"]}
    require(not heldout_cities & (set(CITIES) | {c for _, c in CAPITALS}), "held-out cities leak")
    require(not {item["name"] for item in HELDOUT_ITEMS["code"]} & {op[0] for op in CODE_OPS}, "held-out code leaks")
    heldout_places = {v for item in HELDOUT_ITEMS["capitals"] for v in item.values()}
    require(not heldout_places & ({c for pair in CAPITALS for c in pair} | set(CITIES)), "held-out capitals leak")
    heldout_words = {w for item in HELDOUT_ITEMS["antonyms"] for w in (item["word"], item["antonym"])}
    require(not heldout_words & {w for pair in ANTONYMS for w in pair}, "held-out antonyms leak")
    for item in HELDOUT_ITEMS["code"]:  # the expected answers must actually pass their own tests
        scope: dict = {}
        exec(build_code(item)["answer"], scope)  # noqa: S102 -- our own constant, not user input
        for args, expected in item["tests"]:
            require(scope[item["name"]](*args) == expected, f"held-out code {item['name']} fails {args}")


def shuffled(rows_by_family: dict[str, list[dict]], rng: random.Random) -> list[dict]:
    # Mixed order, so a run that reads only the first N rows still sees every family.
    rows = [row for family_rows in rows_by_family.values() for row in family_rows]
    rng.shuffle(rows)
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text(
        "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8", newline="\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="folder to write the files into")
    parser.add_argument("--seed", type=int, default=SEED, help="change only to make a different variant")
    args = parser.parse_args()
    check_constants()
    args.out.mkdir(parents=True, exist_ok=True)
    banned = banned_keys()
    # One RNG per file, so growing one file does not reshuffle the others.
    datasets = {
        "stage1_sft.jsonl": stage1_rows(random.Random(args.seed), banned),
        "stage2_instruction.jsonl": stage2_rows(random.Random(args.seed + 1), banned),
        "preference.jsonl": preference_rows(random.Random(args.seed + 2), banned),
        "grpo_prompts.jsonl": grpo_rows(random.Random(args.seed + 3), banned),
    }
    for offset, (filename, rows_by_family) in enumerate(datasets.items()):
        rows = shuffled(rows_by_family, random.Random(args.seed + 10 + offset))
        rows = with_ids(rows) if filename == "grpo_prompts.jsonl" else rows
        write_jsonl(args.out / filename, rows)
        counts = ", ".join(f"{name} {len(family_rows)}" for name, family_rows in rows_by_family.items())
        print(f"{filename}: {len(rows)} rows ({counts})")
    heldout = json.dumps(heldout_export(), indent=2, ensure_ascii=False) + "\n"
    (args.out / "heldout_items.json").write_text(heldout, encoding="utf-8", newline="\n")
    print(f"heldout_items.json: {sum(len(items) for items in HELDOUT_ITEMS.values())} items")


if __name__ == "__main__":
    main()
