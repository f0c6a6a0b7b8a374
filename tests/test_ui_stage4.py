"""Stage 4 in the Train tab: the DPO and GRPO presets show their own fields and datasets, the form reads their list
fields, and a GRPO run started from the tab is shown with its reward charts and its sampled completions.

    python -m pytest -q tests/test_ui_stage4.py
"""

import pytest

from conftest import TINY, train_form_args

pytestmark = pytest.mark.app

TINY_FORM = {k: v for k, v in TINY.items() if k != "base_model"}
GRPO_FORM = {**TINY_FORM, "per_device_train_batch_size": 4, "num_generations": 2}  # 2 prompts x 2 completions


def shown_fields(updates: list) -> dict:
    from playground.train_tab import EDITABLE, SHOWN

    return dict(zip(EDITABLE, updates[SHOWN:], strict=True))


def test_each_stage4_preset_shows_its_fields_its_losses_and_only_the_datasets_it_trains_on():
    from playground.train_tab import apply_preset
    from trainers.config import DPO_LOSSES, GRPO_LOSSES

    for preset, starter, losses, grpo in (("stage4_dpo", "preference", DPO_LOSSES, False),
                                          ("stage4_grpo", "grpo_prompts", GRPO_LOSSES, True)):
        note, dataset, init_from, lora_row, stage4_row, *_ = updates = apply_preset(preset)
        fields = shown_fields(updates)
        assert stage4_row["visible"] and lora_row["visible"] and init_from["visible"]
        assert [value for _, value in dataset["choices"]] == [f"assets/datasets/{starter}.jsonl"]
        assert [v for _, v in fields["loss_type"]["choices"]] == ["", *losses]
        assert all(fields[n]["visible"] is grpo for n in ("num_generations", "reward_funcs", "reward_weights"))
        assert not fields["randomize_templates"]["visible"]
    _, dataset, _, _, stage4_row, *_ = apply_preset("stage2_instruction")
    assert not stage4_row["visible"] and all(v.endswith(("stage1_sft.jsonl", "stage2_instruction.jsonl"))
                                             for _, v in dataset["choices"])


def test_the_form_reads_rewards_and_weights_and_names_a_bad_one():
    from playground.train_tab import EDITABLE, collect

    def with_values(**values):
        args = train_form_args("stage4_grpo", "tiny", None, **GRPO_FORM)
        for name, value in values.items():
            args[4 + EDITABLE.index(name)] = value
        return collect(*args)

    config, problems = with_values(reward_funcs="correct, length", reward_weights="1, 0.25")
    assert problems == [] and config.reward_funcs == ["correct", "length"] and config.reward_weights == [1.0, 0.25]
    assert with_values(reward_weights="")[0].reward_weights == []  # every reward weighs 1.0
    _, problems = with_values(reward_weights="1, heavy, 2")
    assert len(problems) == 1 and problems[0].startswith("reward_weights:") and "heavy" in problems[0]
    _, problems = with_values(reward_funcs=" , ")
    assert problems == ["reward_funcs: name at least one reward (correct, format, length or module:function)"]
    _, problems = with_values(reward_weights="1, 2")  # three rewards in the preset
    assert any("2 weight(s) for 3 reward function(s)" in p for p in problems)


def test_stage4_keeps_init_from_and_offers_lora_runs_to_start_from(tiny_config, train_now, learnable_dataset):
    from playground.train_tab import collect, init_choices

    lora = train_now(tiny_config(stage="stage3", method="lora", dataset=str(learnable_dataset), max_steps=1))["id"]
    assert lora in [v for _, v in init_choices(stage="stage4_dpo")]
    assert lora not in [v for _, v in init_choices(stage="stage3")]  # Stage 3 starts from full runs only
    args = train_form_args("stage4_dpo", "tiny", None, **TINY_FORM)
    args[3] = lora
    config, problems = collect(*args)
    assert problems == [] and config.init_from == lora
    args = train_form_args("stage1_sft", "tiny", str(learnable_dataset), **TINY_FORM)
    args[3] = lora
    assert collect(*args)[0].init_from == ""  # a stage that cannot start from a run ignores the hidden field


def test_a_grpo_run_from_the_tab_shows_its_rewards_and_sampled_completions():
    from playground.train_tab import poll, start_training
    from trainers.job_queue import QUEUE

    args = train_form_args("stage4_grpo", "tiny", None, max_steps=2, logging_steps=1, max_completion_length=6,
                           **GRPO_FORM)
    message, run_id, job_id = start_training(*args)
    assert run_id and job_id, message
    assert message.startswith("✓ Run Stage 4 GRPO · LoRA · ")  # a readable label, as for every stage
    record = QUEUE.wait(job_id, timeout_s=300)
    assert record["status"] == "completed", record["error"]
    _, _, progress, figure, log, samples = poll(run_id, None)
    titles = [a.text for a in figure.layout.annotations]
    assert titles[0] == "mean reward" and "reward std and KL" in titles
    names = {trace.name for trace in figure.data}
    assert {"reward", "correct", "format", "length", "kl", "clipped share"} <= names
    assert samples["visible"]
    frame = samples["value"]
    assert list(frame.columns) == ["step", "prompt", "completion", "reward", "correct", "format", "length"]
    assert len(frame) == 2 * 4 and list(dict.fromkeys(frame["step"])) == [2, 1]  # 4 per step, newest first
    assert "no time estimate" not in message
    from playground.train_tab import collect
    from trainers import timing

    entry = timing.load_calibration()[timing.training_key(collect(*args)[0])]  # GRPO learns its own rate
    assert entry["rate_s"] > 0 and timing.training_key(collect(*args)[0]).endswith("train-grpo-lora")
    assert "reward" in log.splitlines()[1]  # the log line carries the step's reward
