"""The config has one source of defaults (TrainConfig) and validates its choices from the field metadata.

    python -m pytest -q tests/test_engine_config.py
"""

import dataclasses

import pytest
import yaml

from trainers.config import CHOICES, FIELDS, SCHEDULERS, TrainConfig, build_config, load_config, read_yaml_chain
from trainers.paths import CONFIGS

# Keys a stage file states even when they equal a default: they say what the stage is, so a changed default must
# not turn the Stage 1 preset into another stage or point it at other data.
IDENTITY_KEYS = ("stage", "method", "dataset")
STAGE_FILES = sorted(p for p in CONFIGS.glob("*.yaml") if p.name != "base.yaml")


def _inherited(path) -> dict:
    """What a config file would get without its own keys: the defaults with its parents' keys on top."""
    parent = (yaml.safe_load(path.read_text()) or {}).get("inherit")
    below = read_yaml_chain(path.parent / parent) if parent else {}
    return dataclasses.asdict(build_config(below))


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_hold_only_what_they_change(path):
    own = {k: v for k, v in (yaml.safe_load(path.read_text()) or {}).items() if k != "inherit"}
    inherited, resolved = _inherited(path), dataclasses.asdict(build_config(own))
    repeated = {k: resolved[k] for k in own if k not in IDENTITY_KEYS and resolved[k] == inherited[k]}
    assert repeated == {}, f"{path.name} restates values TrainConfig or its parent already give: {repeated}"


@pytest.mark.parametrize("path", STAGE_FILES, ids=lambda p: p.name)
def test_stage_files_name_their_stage_method_and_data(path):
    assert set(IDENTITY_KEYS) <= set(read_yaml_chain(path)), path.name
    assert load_config(path).validate() == []


def test_dataclass_defaults_are_the_measured_recipe():
    # the values the README measured (base.yaml used to say them while the dataclass said otherwise)
    config = TrainConfig()
    assert config.padding_free is True
    assert config.target_modules == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    assert load_config(CONFIGS / "stage3_lora.yaml").target_modules == config.target_modules


@pytest.mark.parametrize("given, expected", [
    ("auto", "auto"), ("true", "true"), ("false", "false"), ("TRUE", "true"), ("False", "false"),
    (True, "true"), (False, "false"),  # YAML reads `bf16: true` as a boolean
])
def test_bf16_is_a_tri_state_choice(given, expected):
    config = build_config({"bf16": given})
    assert config.bf16 == expected and config.validate() == []


def test_bf16_choice_decides_autocast():
    from trainers.sft_core import use_bf16

    assert use_bf16(build_config({"bf16": "true"}), "cpu") is True
    assert use_bf16(build_config({"bf16": False}), "cpu") is False


@pytest.mark.parametrize("key, value", [("bf16", "maybe"), ("bf16", "1"), ("stage", "stage4"), ("method", "dpo"),
                                        ("lr_scheduler_type", "cosine_with_min_lr"), ("data_format", "chat")])
def test_values_outside_the_metadata_choices_are_refused(key, value):
    from trainers.stages import preflight

    config = build_config({key: value})
    problems = config.validate()
    assert any(p.startswith(f"{key}: '{value}' is not one of") for p in problems), problems
    with pytest.raises(ValueError, match=f"invalid config: .*{key}: '{value}'"):
        preflight(config)  # before any model or data is touched


def test_choices_live_in_the_field_metadata():
    assert set(CHOICES) == {"stage", "method", "data_format", "lr_scheduler_type", "bf16", "loss_type"}
    assert all(FIELDS[name].default in options for name, options in CHOICES.items())
    assert all(FIELDS[name].metadata.get("help") for name in FIELDS)


def test_scheduler_choices_are_transformers_schedulers_that_need_no_extra_arguments():
    import torch
    from transformers import SchedulerType, get_scheduler

    for name in SCHEDULERS:
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        assert SchedulerType(name).value == name
        scheduler = get_scheduler(name, optimizer, num_warmup_steps=1, num_training_steps=10)
        optimizer.step()
        scheduler.step()
        assert optimizer.param_groups[0]["lr"] > 0, name


def test_gradient_checkpointing_reaches_transformers_under_its_new_name(tmp_path):
    from trainers.sft_core import sft_args

    for name, expected in (("stage1_sft.yaml", False), ("stage3_qlora.yaml", True)):
        args = sft_args(load_config(CONFIGS / name), tmp_path, "cpu", False)
        assert args.activation_checkpointing is expected and args.gradient_checkpointing is expected, name
