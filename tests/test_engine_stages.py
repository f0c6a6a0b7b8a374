"""Each stage owns its data: which row formats it trains on (the others are refused before a run exists, in one
sentence), and how it renders them (Stage 1: the fixed phrasing; Stage 2: a training template per row; Stage 3:
either, by the rows' format).

    python -m pytest -q tests/test_engine_stages.py
"""

import pytest

from trainers import stage1_sft, stage2_instruction, stage3_lora
from trainers.config import TrainConfig
from trainers.data import load_valid_rows
from trainers.stages import preflight, train_stage
from trainers.templates import CHAT, HELDOUT_TEMPLATES, TRAIN_TEMPLATES, render_with_template

STAGE1_DATA = "assets/datasets/stage1_sft.jsonl"
STAGE2_DATA = "assets/datasets/stage2_instruction.jsonl"
PREFERENCE_DATA = "assets/datasets/preference.jsonl"
STAGE1_ROWS = "stage1 rows {prompt, output}"
STAGE2_ROWS = "instruction rows {instruction, response, input?}"
CONFIGS = {"stage1": "stage1_sft.yaml", "stage2": "stage2_instruction.yaml", "stage3": "stage3_lora.yaml",
           "stage4_dpo": "stage4_dpo.yaml", "stage4_grpo": "stage4_grpo.yaml"}
# TINY's 2 completions per step make GRPO groups of 2; a few starter pairs need the default max_length
GROUPS = {"stage4_grpo": {"num_generations": 2}, "stage4_dpo": {"max_length": 256}}


@pytest.mark.parametrize("stage, dataset, data_format, message", [
    ("stage2", STAGE1_DATA, "", f"stage2 trains on {STAGE2_ROWS}; {STAGE1_DATA} has {STAGE1_ROWS}: use stage1, or "
                                f"stage3 which takes either"),
    ("stage1", STAGE2_DATA, "", f"stage1 trains on {STAGE1_ROWS}; {STAGE2_DATA} has {STAGE2_ROWS}: use stage2, or "
                                f"stage3 which takes either"),
    # the explicit override cannot force a stage onto rows it does not train on
    ("stage2", STAGE1_DATA, "stage1", f"stage2 trains on {STAGE2_ROWS}; data_format=stage1 asks it to train on "
                                      f"{STAGE1_ROWS}: use stage1, or stage3 which takes either"),
    ("stage1", STAGE2_DATA, "stage2", f"stage1 trains on {STAGE1_ROWS}; data_format=stage2 asks it to train on "
                                      f"{STAGE2_ROWS}: use stage2, or stage3 which takes either"),
    ("stage1", PREFERENCE_DATA, "", f"stage1 trains on {STAGE1_ROWS}; {PREFERENCE_DATA} has preference rows "
                                    "{prompt, chosen, rejected}: use stage4_dpo"),
    ("stage2", PREFERENCE_DATA, "", f"stage2 trains on {STAGE2_ROWS}; {PREFERENCE_DATA} has preference rows "
                                    "{prompt, chosen, rejected}: use stage4_dpo"),
    ("stage3", PREFERENCE_DATA, "", f"stage3 trains on {STAGE1_ROWS} or {STAGE2_ROWS}; {PREFERENCE_DATA} has "
                                    "preference rows {prompt, chosen, rejected}: use stage4_dpo"),
    ("stage3", STAGE1_DATA, "preference", f"stage3 trains on {STAGE1_ROWS} or {STAGE2_ROWS}; data_format=preference "
                                          "asks it to train on preference rows {prompt, chosen, rejected}: use "
                                          "stage4_dpo"),
    ("stage4_dpo", STAGE1_DATA, "", f"stage4_dpo trains on preference rows {{prompt, chosen, rejected}}; "
                                    f"{STAGE1_DATA} has {STAGE1_ROWS}: use stage1, or stage3 which takes either"),
    ("stage4_grpo", PREFERENCE_DATA, "", "stage4_grpo trains on prompts with a check {prompt, check, id?, category?}; "
                                         f"{PREFERENCE_DATA} has preference rows {{prompt, chosen, rejected}}: use "
                                         "stage4_dpo"),
])
def test_a_stage_refuses_rows_it_does_not_train_on(tiny_config, stage, dataset, data_format, message):
    # an unknown model: the refusal comes from the rows alone, before any tokenizer or model is looked up
    config = tiny_config(CONFIGS[stage], dataset=dataset, data_format=data_format, base_model="no-such-model",
                         **GROUPS.get(stage, {}))
    with pytest.raises(ValueError) as caught:
        preflight(config)
    assert str(caught.value) == message
    with pytest.raises(ValueError) as caught:  # the worker checks again (a resumed run skips preflight)
        train_stage(config, "never-created")
    assert str(caught.value) == message


@pytest.mark.parametrize("stage, dataset, data_format", [
    ("stage1", STAGE1_DATA, ""), ("stage1", STAGE1_DATA, "stage1"), ("stage2", STAGE2_DATA, ""),
    ("stage3", STAGE1_DATA, ""), ("stage3", STAGE2_DATA, ""), ("stage3", STAGE2_DATA, "stage2"),
    ("stage4_dpo", PREFERENCE_DATA, ""), ("stage4_grpo", "assets/datasets/grpo_prompts.jsonl", ""),
])
def test_a_stage_accepts_the_rows_it_trains_on(tiny_config, stage, dataset, data_format):
    preflight(tiny_config(CONFIGS[stage], dataset=dataset, data_format=data_format, **GROUPS.get(stage, {})))


def test_stage1_renders_a_row_in_its_fixed_phrasing(tiny_tokenizer):
    row = {"prompt": "  Capital of France?", "output": " Paris\n"}
    chat_prompt = tiny_tokenizer.apply_chat_template([{"role": "user", "content": "Capital of France?"}],
                                                     tokenize=False, add_generation_prompt=True)
    # template randomization is a Stage 2 setting: Stage 1 rows keep their one phrasing whatever it says
    for config in (TrainConfig(), TrainConfig(stage="stage1", template_seed=3, randomize_templates=True)):
        [example] = stage1_sft.render_rows([row], "stage1", tiny_tokenizer, config)
        assert example == {"prompt": chat_prompt, "completion": "Paris", "template": CHAT}
    many = stage1_sft.render_rows([row] * 20, "stage1", tiny_tokenizer, TrainConfig(template_seed=5))
    assert {e["prompt"] for e in many} == {chat_prompt}


def test_stage2_renders_rows_through_several_training_templates(tiny_tokenizer):
    rows = [{"instruction": "Reverse the word.", "input": f"word{i}", "response": f"{i}drow"} for i in range(40)]
    config = TrainConfig(stage="stage2", template_seed=0)
    examples = stage2_instruction.render_rows(rows, "stage2", tiny_tokenizer, config)
    used = [e["template"] for e in examples]
    assert len(set(used)) >= 4 and set(used) <= set(TRAIN_TEMPLATES) and not set(used) & set(HELDOUT_TEMPLATES)
    assert len({e["prompt"].replace(r["input"], "") for e, r in zip(examples, rows, strict=True)}) >= 4
    for example, row in zip(examples, rows, strict=True):
        assert example["prompt"] == render_with_template(example["template"], row["instruction"], row["input"],
                                                         tiny_tokenizer)
        assert example["completion"] == row["response"]
    # seeded per row: a row keeps its template however many rows are rendered, and the seed changes the draw
    assert stage2_instruction.render_rows(rows[:7], "stage2", tiny_tokenizer, config) == examples[:7]
    reseeded = stage2_instruction.render_rows(rows, "stage2", tiny_tokenizer, TrainConfig(template_seed=1))
    assert [e["template"] for e in reseeded] != used


def test_stage3_renders_each_format_as_its_own_stage_does(tiny_tokenizer):
    config = TrainConfig(stage="stage3", method="lora", template_seed=2)
    for path, own_stage in ((STAGE1_DATA, stage1_sft), (STAGE2_DATA, stage2_instruction)):
        fmt, records = load_valid_rows(path)
        assert fmt in stage3_lora.ACCEPTED_FORMATS
        expected = own_stage.render_rows(records, fmt, tiny_tokenizer, config)
        assert stage3_lora.render_rows(records, fmt, tiny_tokenizer, config) == expected
    assert {e["template"] for e in expected} != {CHAT}  # Stage 2 rows under Stage 3 still get random templates


def test_cli_refuses_stage2_on_stage1_rows_in_one_line(run_cli, playground_home):
    result = run_cli("train", "assets/configs/stage2_instruction.yaml", "--set", "base_model=tiny",
                     "--set", f"dataset={STAGE1_DATA}", timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: stage2 trains on {STAGE2_ROWS}; {STAGE1_DATA} has {STAGE1_ROWS}: use stage1, or stage3 which "
        f"takes either"]
    assert not (playground_home / "runs").exists() or not any((playground_home / "runs").iterdir())
