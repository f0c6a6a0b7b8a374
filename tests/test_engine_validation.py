"""The optional held-out validation loss: `eval_fraction` of the rows kept out of training (whole groups of identical
rows, the same ones for the same seed), their loss measured by the Trainer's eval loop and written to metrics.jsonl.

    python -m pytest -q tests/test_engine_validation.py
"""

import json
import math

import pytest

from trainers import runs


def test_a_run_with_validation_writes_finite_eval_loss_on_rows_it_never_trained(tiny_config, learnable_dataset,
                                                                               train_now, tiny_tokenizer):
    from trainers.sft_core import build_datasets
    from trainers.stage1_sft import render_rows

    config = tiny_config(dataset=str(learnable_dataset), max_steps=5, eval_fraction=0.25, eval_steps=2,
                         learning_rate=1e-3)
    record = train_now(config)
    assert record["status"] == "completed", record["error"]

    evals = runs.read_eval_metrics(record["id"])
    assert [r["step"] for r in evals] == [2, 4, 5]  # every eval_steps, and once at the end
    assert all(math.isfinite(r["eval_loss"]) and r["eval_loss"] > 0 for r in evals)
    assert [r["step"] for r in runs.read_metrics(record["id"])] == [1, 2, 3, 4, 5]  # training lines unchanged

    held = [json.loads(line) for line in (runs.run_path(record["id"]) / "heldout.jsonl").read_text().splitlines()]
    rows = [json.loads(line) for line in learnable_dataset.read_text().splitlines()]
    assert record["held_out_rows"] == len(held) == round(0.25 * len(rows))  # 16 of 64: four words, each 4 times
    trained, _, _ = build_datasets(config, tiny_tokenizer, render_rows)
    trained_outputs = {row["completion"] for row in trained}
    assert len(trained) + len(held) == len(rows)
    assert not {row["output"] for row in held} & trained_outputs  # no held-out row, nor a copy of one, trained
    # the same seed holds out the same rows; another seed others
    assert build_datasets(config, tiny_tokenizer, render_rows)[2] == held
    other = tiny_config(dataset=str(learnable_dataset), eval_fraction=0.25, seed=7)
    assert build_datasets(other, tiny_tokenizer, render_rows)[2] != held


def test_validation_is_off_by_default_and_bad_fractions_are_refused_before_a_run(tiny_config, write_jsonl):
    from trainers.stages import preflight

    assert tiny_config().eval_fraction == 0
    for fraction in (-0.1, 0.5, 0.9):
        problems = tiny_config(eval_fraction=fraction).validate()
        assert any(p.startswith("eval_fraction: must be in [0, 0.5)") for p in problems), problems
    few = write_jsonl([{"prompt": f"Say {w}.", "output": w} for w in ("a", "b", "c", "d")], "few.jsonl")
    with pytest.raises(ValueError, match="eval_fraction: 0.1 of 4 rows .* holds out 0; at least 2"):
        preflight(tiny_config(dataset=str(few), eval_fraction=0.1))
