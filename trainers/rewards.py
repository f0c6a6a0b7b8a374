"""GRPO's rewards: the evaluation suite's own judge-free checkers, so what RL optimises is what the suite measures.

    funcs = reward_functions(["correct", "format", "length", "my_rewards:brevity"], max_completion_length=48)

Each is a TRL reward function: called with the batch's `prompts`, `completions` (strings: the prompts are rendered
text), `completion_ids` and the dataset's other columns (here `check_json`, each row's check, and `question`, the
prompt as written), it returns one float per completion (None: not scorable, which TRL leaves out of the group mean).

- correct: `evalsuite.scorers.score_details(check, completion)["score"]` in [0, 1] (exact alias, numeric target,
  the share of IFEval-style constraints met, the share of code tests passed in the sandbox). Where model-written code
  may not run (public mode without the full sandbox, `evalsuite.sandbox.code_refusal`) a code row scores None.
- format: 1 when the answer has the shape its check expects, whatever its value: a bare number (units allowed) for
  numeric checks, one short line for exact ones, a JSON object where a constraint asks for JSON, a `def <function>`
  that compiles for code, any non-empty text for the other constraints; else 0.
- length: 1 - tokens / max_completion_length, so shorter is better and a completion cut at the limit gets 0.
- `module:function`: your own, importable, with the signature above; it also gets `checks` (the parsed checks).
"""

import importlib
import json
import re

from evalsuite import sandbox
from evalsuite.ifeval import strip_code_fences
from evalsuite.scorers import NUMBER_RE, first_line, score_details

BUILT_IN = ("correct", "format", "length")
MAX_EXACT_WORDS = 8  # "one short line" for an exact-answer check


def _checks(check_json: list[str]) -> list[dict]:
    return [json.loads(c) for c in check_json]


def correct(completions: list[str], check_json: list[str], **kwargs) -> list[float | None]:
    refusal = sandbox.code_refusal()
    return [None if check["type"] == "code" and refusal else score_details({"check": check, "category": ""}, text)[
        "score"] for check, text in zip(_checks(check_json), completions, strict=True)]


def _bare_number(text: str, units: list[str]) -> bool:
    line = first_line(text).rstrip(".").strip()
    for unit in sorted(units, key=len, reverse=True):
        if line.lower().endswith(unit.lower()):
            line = line[: -len(unit)].strip()
            break
    return NUMBER_RE.fullmatch(line.lstrip("$").strip()) is not None


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(strip_code_fences(text).strip()), dict)
    except json.JSONDecodeError:
        return False


def _compiles(code: str) -> bool:
    try:
        compile(code, "<answer>", "exec")
    except (SyntaxError, ValueError):
        return False
    return True


def format_score(check: dict, text: str) -> float:
    text = text.strip()
    one_line = bool(text) and len(text.splitlines()) == 1
    kind = check["type"]
    if kind == "numeric":
        ok = one_line and _bare_number(text, check.get("units", []))
    elif kind == "exact":
        ok = one_line and len(text.split()) <= MAX_EXACT_WORDS
    elif kind == "code":
        code = sandbox.extract_code(text, check["function"])
        ok = re.search(rf"def\s+{re.escape(check['function'])}\s*\(", code) is not None and _compiles(code)
    elif any(c["kind"].startswith("json") for c in check["constraints"]):
        ok = _is_json_object(text)
    else:
        ok = bool(text)
    return float(ok)


def format_reward(completions: list[str], check_json: list[str], **kwargs) -> list[float]:
    return [format_score(check, text) for check, text in zip(_checks(check_json), completions, strict=True)]


def length_reward(max_completion_length: int):
    def length(completions: list[str], completion_ids: list[list[int]], **kwargs) -> list[float]:
        return [max(0.0, 1.0 - len(ids) / max_completion_length) for ids in completion_ids]

    return length


def custom_reward(spec: str):
    """'package.module:function' -> that function, given the parsed checks as `checks` besides TRL's arguments."""
    module_name, _, name = spec.partition(":")
    try:
        func = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"reward_funcs: cannot load '{spec}' ({err.__class__.__name__}: {err})") from None
    if not callable(func):
        raise ValueError(f"reward_funcs: '{spec}' is not a function")

    def reward(completions, check_json=None, **kwargs):
        return func(completions=completions, checks=_checks(check_json or []), check_json=check_json, **kwargs)

    reward.__name__ = name
    return reward


def reward_functions(names: list[str], max_completion_length: int) -> list:
    """The functions named in the config, each named as metrics.jsonl shows it (`rewards/<name>/mean`)."""
    funcs = []
    for name in names:
        if name == "correct":
            func = correct
        elif name == "format":
            func = format_reward
        elif name == "length":
            func = length_reward(max_completion_length)
        elif ":" in name:
            func = custom_reward(name)
        else:
            raise ValueError(f"reward_funcs: '{name}' is not one of {', '.join(BUILT_IN)} or module:function")
        funcs.append(_named(func, name.rpartition(":")[2]))
    return funcs


def _named(func, name: str):
    def reward(*args, **kwargs):
        return func(*args, **kwargs)

    reward.__name__ = name
    return reward
