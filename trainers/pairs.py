"""Preference pairs from a model's own answers, judged by the evaluation suite's checkers (no judge model).

    pairs, stats = build_preference_pairs(hub, "RUN_ID", rows, samples=4, temperature=1.0)
    python -m trainers pairs --run RUN_ID --prompts assets/datasets/grpo_prompts.jsonl --out pairs.jsonl

`rows` are prompts with a check ({prompt, check}: the GRPO format, validated the same way). Each prompt is answered
`samples` times by the chosen model (a run id, or "base") through `trainers.generate.answer_grid`, the one answering
path, sampling at `temperature` > 0; every answer is scored by `evalsuite.scorers.score_details` (exact, numeric,
constraints, code in the sandbox). A prompt whose answers both pass and fail gives up to `pairs_per_prompt` pairs:
chosen = a passing answer (highest score, then shortest), rejected = a failing one (lowest score first). Prompts whose
answers all pass or all fail teach nothing by preference and are left out (counted in `stats`). The pairs are
`{prompt, chosen, rejected}` rows that `python -m trainers train assets/configs/stage4_dpo.yaml --set dataset=FILE`
trains on. Where model-written code may not run (`evalsuite.sandbox.code_refusal`), code prompts are skipped.

The app and the CLI build pairs as a job (`trainers.submit.submit_pairs`, phase kind `pairs` in trainers/phases.py):
`check_settings` is what both refuse up front, `no_pairs_reason` the sentence a run without pairs fails with.
"""

import json
import os
from pathlib import Path

from evalsuite import sandbox
from evalsuite.scorers import score_details

SAMPLES = (2, 16)  # answers per prompt: fewer than 2 cannot disagree; more is minutes of sampling per prompt on a CPU
MAX_TEMPERATURE = 2.0  # above this a small model's samples are mostly noise that fails every check


def _distinct(texts: list[str]) -> list[str]:
    return list(dict.fromkeys(t.strip() for t in texts if t.strip()))


def pairs_for_prompt(row: dict, answers: list[str], pairs_per_prompt: int = 1) -> tuple[list[dict], list[dict]]:
    """(pairs, scored answers) for one prompt: each distinct answer with its score, passing ones paired with
    failing ones."""
    scored = [{"answer": a, **score_details({"check": row["check"], "category": row.get("category", "")}, a)}
              for a in _distinct(answers)]
    passing = sorted((s for s in scored if s["passed"]), key=lambda s: (-s["score"], len(s["answer"])))
    failing = sorted((s for s in scored if not s["passed"]), key=lambda s: s["score"])
    pairs = [{"prompt": row["prompt"], "chosen": good["answer"], "rejected": bad["answer"]}
             for good, bad in zip(passing, failing, strict=False)][:pairs_per_prompt]
    return pairs, scored


def usable_rows(rows: list[dict]) -> list[dict]:
    """The prompts whose answers can be checked here: code prompts only where model-written code may run."""
    refusal = sandbox.code_refusal()
    return [r for r in rows if not (refusal and r["check"]["type"] == "code")]


def build_preference_pairs(hub, target: str, rows: list[dict], samples: int = 4, temperature: float = 1.0,
                           max_new_tokens: int = 64, pairs_per_prompt: int = 1, progress=None) -> tuple[list, dict]:
    """(pairs, stats) from `target`'s own sampled answers to `rows`; see the module docstring."""
    from trainers.generate import answer_grid

    if temperature <= 0 or samples < 2:
        raise ValueError("pairs need varied answers: temperature > 0 and at least 2 samples per prompt")
    usable = usable_rows(rows)
    messages = [[{"role": "user", "content": r["prompt"]}] for r in usable for _ in range(samples)]
    answers = answer_grid(hub, [target], messages, max_new_tokens=max_new_tokens, temperature=temperature,
                          progress=progress)[target] if messages else []
    pairs, stats = [], {"prompts": len(rows), "skipped_code": len(rows) - len(usable), "answers": len(answers),
                        "passed": 0, "failed": 0, "all_pass": 0, "all_fail": 0, "pairs": 0}
    for i, row in enumerate(usable):
        found, scored = pairs_for_prompt(row, answers[i * samples:(i + 1) * samples], pairs_per_prompt)
        pairs += found
        passed = sum(s["passed"] for s in scored)
        stats["passed"] += passed
        stats["failed"] += len(scored) - passed
        stats["all_pass"] += bool(scored) and passed == len(scored)
        stats["all_fail"] += passed == 0
    stats["pairs"] = len(pairs)
    return pairs, stats


def write_pairs(pairs: list[dict], path: str | Path) -> Path:
    """JSON lines, written to a temp file and renamed (a half-written file never looks finished)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs), encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_prompt_rows(source: str) -> list[dict]:
    """{prompt, check} rows, validated as the GRPO format (DatasetError lists every bad row with its line)."""
    from trainers.data import load_valid_rows
    from trainers.sft_core import resolve_dataset

    return load_valid_rows(resolve_dataset(source), "grpo")[1]


def hub_for(target: str, base_model: str | None = None):
    """A ModelHub on the base the target runs on: the run's own base model, or `base_model` for "base"."""
    from trainers import runs
    from trainers.adapters import BASE, ModelHub

    if target == BASE:
        return ModelHub(base_model or "embedded")
    return ModelHub(base_model or runs.read_run(target)["base_model"])


def check_settings(samples, temperature, max_new_tokens, pairs_per_prompt=1) -> str:
    """The first problem with the sampling settings as one line naming the field and its limit, or "" (the server's
    caps are checked where the request is made, trainers.submit.pairs_phase)."""
    if not SAMPLES[0] <= samples <= SAMPLES[1]:
        return (f"samples per prompt: must be {SAMPLES[0]} to {SAMPLES[1]} (got {samples}); pairs need answers that "
                "differ")
    if not 0 < temperature <= MAX_TEMPERATURE:
        return f"temperature: must be above 0 and at most {MAX_TEMPERATURE:g} (got {temperature:g}); 0 samples nothing"
    if max_new_tokens < 1:
        return f"max new tokens: must be at least 1 (got {max_new_tokens})"
    if pairs_per_prompt < 1:
        return f"pairs per prompt: must be at least 1 (got {pairs_per_prompt})"
    return ""


def no_pairs_reason(stats: dict) -> str:
    """Why a build found no pairs, and what to change, in one sentence."""
    return (f"No pairs: none of the {stats['prompts']} prompts had both a passing and a failing answer "
            f"({stats['all_pass']} all passed, {stats['all_fail']} all failed, {stats['skipped_code']} code prompts "
            "skipped), so nothing was saved; sample more answers per prompt, raise the temperature, or pick another "
            "run (one that gets some of these prompts right, not all).")
