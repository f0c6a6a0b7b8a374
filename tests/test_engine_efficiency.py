"""The efficiency comparison (trainers/efficiency.py) on hand-built run records: only runs on the same base model and
dataset are compared, the latest of each method, with ratios to the full run; the Runs tab only formats it.

    python -m pytest -q tests/test_engine_efficiency.py
"""

from pathlib import Path

import pytest

from trainers import runs

from trainers.efficiency import efficiency_rows, pick_comparable

DATA = "assets/datasets/stage2_instruction.jsonl"


def run(run_id, method, base="tiny", dataset=DATA, status="completed", memory=1000.0, speed=100.0, trainable=None):
    return {"id": run_id, "method": method, "base_model": base, "dataset": dataset, "status": status,
            "peak_memory_mb": memory, "tokens_per_second": speed, "total_params": 1_000_000, "final_loss": 0.5,
            "trainable_params": trainable or (1_000_000 if method == "full" else 10_000)}


def test_only_runs_on_one_base_model_and_dataset_are_picked():
    records = [  # newest first, as runs.list_runs() gives them
        run("lora-other-data", "lora", dataset="assets/datasets/stage1_sft.jsonl"),
        run("qlora-running", "qlora", status="running"),
        run("full-other-model", "full", base="embedded"),
        run("lora-new", "lora", memory=400.0, speed=300.0),
        run("qlora", "qlora", memory=250.0, speed=150.0),
        run("lora-old", "lora"),
        run("full", "full", dataset=str(Path(DATA).resolve())),  # same file, absolute path
    ]
    picked = pick_comparable(records)
    assert {m: r and r["id"] for m, r in picked.items()} == {"full": "full", "lora": "lora-new", "qlora": "qlora"}
    rows = efficiency_rows(picked, {"full": 500.0, "lora": 5.0, "qlora": 5.0})
    assert rows["lora"]["memory_vs_full"] == pytest.approx(0.4) and rows["qlora"]["memory_vs_full"] == 0.25
    assert rows["lora"]["speed_vs_full"] == pytest.approx(3.0) and rows["full"]["speed_vs_full"] == 1.0
    assert rows["lora"]["trainable_pct"] == pytest.approx(1.0) and rows["lora"]["artifact_vs_full"] == 0.01


def test_missing_numbers_give_no_ratio_and_mixed_runs_are_refused():
    picked = {"full": None, "lora": run("l", "lora", memory=None), "qlora": run("q", "qlora")}
    rows = efficiency_rows(picked, {})
    assert rows["full"] is None
    assert rows["lora"]["peak_memory_mb"] is None and rows["lora"]["memory_vs_full"] is None
    assert rows["qlora"]["speed_vs_full"] is None  # no full run to compare with
    with pytest.raises(ValueError, match="not comparable"):
        efficiency_rows({"full": run("f", "full"), "lora": run("l", "lora", base="embedded")}, {})


def test_runs_tab_table_says_what_it_compares():
    from playground.runs_tab import efficiency_markdown

    table = efficiency_markdown([run("lora", "lora", memory=500.0), run("full", "full"),
                                 run("full-other", "full", dataset="assets/datasets/stage1_sft.jsonl")])
    heading, *body = table.splitlines()
    assert "only runs on the same base model and dataset" in heading and f"dataset `{DATA}`" in heading
    full = run("full", "full")
    assert f"relative to the full run {runs.run_label(full)}" in heading and "full-other" not in table
    assert any(line.startswith(f"| LoRA | {runs.run_label(run('lora', 'lora'))} | 500 (0.50×)") for line in body)
    assert any(line.startswith("| QLoRA | _no completed run_") for line in body)
    assert "No completed runs yet" in efficiency_markdown([run("x", "lora", status="failed")])


def test_the_table_explains_each_peak_with_the_estimates_split(tiny_config, train_now, learnable_dataset):
    """Full fine-tuning keeps fp32 gradients and AdamW state for every weight; LoRA only for its adapters, so what is
    left of a LoRA run's peak is the frozen weights and the activations."""
    from playground.runs_tab import efficiency_markdown

    full = train_now(tiny_config(dataset=str(learnable_dataset), max_steps=1))
    lora = train_now(tiny_config(stage="stage3", method="lora", dataset=str(learnable_dataset), max_steps=1))
    rows = efficiency_rows({"full": full, "lora": lora, "qlora": None}, {})
    parts_full, parts_lora = rows["full"]["memory_parts"], rows["lora"]["memory_parts"]
    assert parts_full["grads_optimizer_mb"] > 10 * parts_lora["grads_optimizer_mb"] > 0
    assert parts_full["activations_mb"] == pytest.approx(parts_lora["activations_mb"], rel=0.5)
    table = efficiency_markdown([lora, full]).splitlines()
    [full_line] = [line for line in table if line.startswith("| full fine-tuning")]
    largest = max(("weights", "grads_optimizer", "activations", "runtime"), key=lambda k: parts_full[f"{k}_mb"])
    bold = {"weights": "weights", "grads_optimizer": "grads + optimizer", "activations": "activations",
            "runtime": "runtime"}[largest]
    assert f"**{bold} {parts_full[f'{largest}_mb']:,.0f}**" in full_line
