"""Stage 4 on the tiny model: DPO raises the chosen-over-rejected margin, GRPO's rewards are the suite's own checker,
the reference is the starting model (base frozen, adapters trained; a continued adapter keeps a frozen
copy as the reference), bad rows are reported by line, self-built preference pairs really pass / fail their check,
and a Stage 4 run is answerable like any LoRA run; a DPO phase of a job starts from the run an earlier phase of it
trained, and answers on that run's checkpoint.

    python -m pytest -q tests/test_engine_stage4.py
"""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from conftest import LEARNABLE, TINY, train_in_process
from trainers import runs, stage4_dpo, stage4_grpo
from trainers.config import build_config, load_config
from trainers.data import load_rows, validate_rows

REPO = Path(__file__).resolve().parent.parent
CONFIGS = REPO / "assets" / "configs"
# the case only: IFEval's own lowercase rule also wants langdetect to call the text English, which one token is not
LOWERCASE = {"type": "constraints", "constraints": [{"kind": "lowercase", "rule": "any_language"}]}


def color_pairs(repeat: int = 2) -> list[dict]:
    """The learnable word -> color mapping as pairs: the right color chosen, a hedge ("maybe") rejected."""
    return [{"prompt": f"Color code of {word}?", "chosen": color, "rejected": "maybe"}
            for _ in range(repeat) for word, color in LEARNABLE]


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def capture_trainer(monkeypatch, module) -> dict:
    """Keep the trainer the stage builds, so a test can look at the trained model in memory."""
    seen, original = {}, module.make_trainer

    def make_trainer(config):
        make = original(config)

        def wrapped(*args):
            seen["trainer"] = make(*args)
            return seen["trainer"]

        return wrapped

    monkeypatch.setattr(module, "make_trainer", make_trainer)
    return seen


def train_captured(monkeypatch, module, config) -> tuple[dict, object]:
    seen = capture_trainer(monkeypatch, module)
    record = train_in_process(config)
    assert record["status"] == "completed", record["error"]
    return record, seen["trainer"]


def base_tensors_unchanged(model, tiny_path: Path) -> int:
    """Assert every base weight in memory equals the checkpoint's (in the dtype it was loaded in); return how many."""
    saved = load_file(tiny_path / "model.safetensors")
    checked = 0
    for name, param in model.named_parameters():
        if "lora_" in name:
            continue
        key = name.replace("base_model.model.", "").replace(".base_layer", "")
        assert torch.equal(param.detach().cpu(), saved[key].to(param.dtype)), f"base weight {key} changed"
        checked += 1
    return checked


@pytest.fixture(scope="module")
def dpo_home(tmp_path_factory):
    return tmp_path_factory.mktemp("dpo-home")


@pytest.fixture(scope="module")
def dpo_run(dpo_home, tiny_path):
    """DPO (the shipped preset) on learnable color pairs, lr 3e-2, 12 steps of 4 pairs; trained once per module."""
    data = write(dpo_home / "pairs.jsonl", color_pairs())
    config = load_config(CONFIGS / "stage4_dpo.yaml", {**TINY, "dataset": str(data), "learning_rate": 3e-2,
                                                        "max_steps": 12, "per_device_train_batch_size": 4})
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLAYGROUND_HOME", str(dpo_home))
        return (*train_captured(mp, stage4_dpo, config), config)


@pytest.fixture
def in_dpo_home(dpo_run, dpo_home, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_HOME", str(dpo_home))
    return dpo_run


def test_dpo_raises_the_margin_and_trains_only_the_adapter(in_dpo_home, tiny_path):
    record, trainer, _ = in_dpo_home
    metrics = runs.read_metrics(record["id"])
    assert [m["step"] for m in metrics] == list(range(1, 13))
    keys = {"loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies", "tokens_per_second"}
    assert all(keys <= set(m) for m in metrics), metrics[0]
    margins = [m["rewards/margins"] for m in metrics]
    assert abs(margins[0]) < 1e-3  # step 1: the adapter is still zero, policy == reference
    assert sum(margins[-3:]) / 3 > 0.08, margins
    assert sum(m["rewards/accuracies"] for m in metrics[-3:]) / 3 >= 0.75, metrics[-3:]
    assert metrics[-1]["loss"] < metrics[0]["loss"] - 0.05
    # the reference pass is the adapter switched off: the base in memory is exactly the checkpoint, the adapter moved
    assert base_tensors_unchanged(trainer.model, tiny_path) >= 20
    adapter = load_file(Path(record["artifact_dir"]) / "adapter_model.safetensors")
    assert any(k.endswith("lora_B.weight") for k in adapter)
    assert all(t.abs().sum() > 0 for k, t in adapter.items() if k.endswith("lora_B.weight"))  # B starts at zero
    assert trainer.ref_model is None  # no second copy of the weights
    assert 0.005 < record["trainable_params"] / record["total_params"] < 0.05


def test_a_stage4_run_is_answered_like_any_lora_run(in_dpo_home):
    from trainers.adapters import ModelHub, compatibility_problem, describe_target
    from trainers.generate import answer_grid

    record, _, _ = in_dpo_home
    assert describe_target(record["id"])["kind"] == "adapter"
    hub = ModelHub("tiny", dtype="fp32")
    assert compatibility_problem(hub, record["id"]) == ""
    answers = answer_grid(hub, ["base", record["id"]], ["Color code of apple?"], max_new_tokens=3)
    assert set(answers) == {"base", record["id"]}


def test_dpo_goes_on_training_a_lora_run_against_a_frozen_copy_of_it(monkeypatch, tmp_path, tiny_path, tiny_config):
    from conftest import learnable_rows
    from trainers.adapters import ModelHub, compatibility_problem

    sft_data = write(tmp_path / "learnable.jsonl", learnable_rows(1))
    stage3 = train_in_process(tiny_config("stage3_lora.yaml", dataset=str(sft_data), max_steps=2))
    assert stage3["status"] == "completed", stage3["error"]
    start = load_file(Path(stage3["artifact_dir"]) / "adapter_model.safetensors")
    data = write(tmp_path / "pairs.jsonl", color_pairs(1))
    config = load_config(CONFIGS / "stage4_dpo.yaml", {**TINY, "dataset": str(data), "init_from": stage3["id"],
                                                        "learning_rate": 5e-3, "max_steps": 3})
    record, trainer = train_captured(monkeypatch, stage4_dpo, config)
    assert "ref" not in trainer.model.peft_config  # TRL's frozen copy is dropped before saving ...
    assert not (Path(record["artifact_dir"]) / "ref").exists()  # ... so the folder holds one adapter
    trained = load_file(Path(record["artifact_dir"]) / "adapter_model.safetensors")
    assert set(trained) == set(start)
    assert any(not torch.equal(trained[k], start[k]) for k in start)  # the Stage 3 adapter trained on
    metrics = runs.read_metrics(record["id"])
    assert abs(metrics[0]["rewards/margins"]) < 1e-3  # step 1: policy == its frozen starting copy
    assert compatibility_problem(ModelHub("tiny", dtype="fp32"), record["id"]) == ""  # still on the plain base


def test_a_train_phase_starts_from_the_run_an_earlier_phase_of_its_job_trained(tmp_path, tiny_config):
    """init_from_phase names an earlier train phase's label, and the run id it stands for is filled in when the phase
    starts (reproduce's DPO on its own Stage 2 run). The phase is priced before that (init_from does not change the
    work), and its adapter answers on that run's checkpoint, beside the base and the run itself."""
    from peft import PeftModel

    from conftest import learnable_rows
    from trainers import jobs, timing
    from trainers.adapters import ModelHub, compatibility_problem
    from trainers.config import to_dict
    from trainers.generate import answer_grid, generate_batch, render_prompt
    from trainers.job_queue import supervise
    from trainers.models import load_model, load_tokenizer
    from trainers.submit import check_phases

    sft = tiny_config(dataset=str(write(tmp_path / "learnable.jsonl", learnable_rows(1))), max_steps=2)
    dpo = load_config(CONFIGS / "stage4_dpo.yaml", {**TINY, "dataset": str(write(tmp_path / "pairs.jsonl",
                                                                                 color_pairs(1))), "max_steps": 8})
    phases = [jobs.phase("train sft", "train", config=to_dict(sft), label="sft"),
              jobs.phase("train dpo", "train", config=to_dict(dpo), label="dpo", init_from_phase="sft")]
    check_phases(phases)
    with pytest.raises(ValueError, match="not the label of an earlier training phase"):
        check_phases(phases[::-1])  # naming a phase that has not run by then is refused before anything is queued
    plan = timing.plan_phase(phases[1], phases)
    assert plan["key"].endswith("|train-dpo-lora") and plan["steps"] == 8  # DPO calibrates apart from SFT LoRA
    job = jobs.create_job("test", phases)
    assert job["estimate"]["error"] is None and plan["key"] in job["estimate"]["missing"]
    record = supervise(job["id"], in_process=True)
    assert record["status"] == "completed", record["error"]
    sft_id, dpo_id = (p["result"]["run_id"] for p in record["phases"])
    assert runs.read_config(dpo_id)["init_from"] == sft_id and record["phases"][1]["spec"]["run_id"] == dpo_id
    dpo_run = runs.read_run(dpo_id)
    assert dpo_run["tokens_trained"] == pytest.approx(plan["units"])  # 16 pairs, 2 a step: one epoch, as priced
    entry = timing.load_calibration()[plan["key"]]
    assert entry["rate_s"] == pytest.approx(dpo_run["train_s"] / dpo_run["tokens_trained"])

    hub = ModelHub("tiny", dtype="fp32")
    assert compatibility_problem(hub, dpo_id) == "" and not hub.adapters_on_base([dpo_id])
    prompts = ["Color code of apple?", "Color code of river?"]
    answers = answer_grid(hub, ["base", sft_id, dpo_id], prompts, max_new_tokens=4)
    checkpoint = runs.read_run(sft_id)["artifact_dir"]
    alone = PeftModel.from_pretrained(load_model(checkpoint, dtype="fp32"), dpo_run["artifact_dir"]).eval()
    tokenizer = load_tokenizer(checkpoint)
    assert answers[dpo_id] == [generate_batch(alone, tokenizer, [render_prompt(tokenizer, p)], max_new_tokens=4)[0]
                               for p in prompts]


def test_grpo_rewards_are_the_suite_checker_and_only_the_adapter_trains(monkeypatch, tmp_path, tiny_path):
    # One token per completion, rewarded by the suite's `lowercase` constraint: part of the tiny model's random tokens
    # pass, so the groups carry signal. The tiny model's random, tied embeddings give GRPO nothing to generalise
    # over, so the rising mean reward is shown on the embedded model (README, "Stage 4"), not asserted here.
    data = write(tmp_path / "prompts.jsonl", [{"prompt": f"Say something, {word}.", "check": LOWERCASE}
                                               for word, _ in LEARNABLE])
    config = load_config(CONFIGS / "stage4_grpo.yaml", {
        **TINY, "dataset": str(data), "reward_funcs": "correct,length", "reward_weights": "1,0.5",
        "learning_rate": 1e-2, "max_steps": 3, "max_completion_length": 1, "num_generations": 4,
        "per_device_train_batch_size": 8})
    record, trainer = train_captured(monkeypatch, stage4_grpo, config)
    metrics = runs.read_metrics(record["id"])
    keys = {"loss", "reward", "reward_std", "rewards/correct/mean", "rewards/length/mean", "kl",
            "completions/mean_length", "completions/clipped_ratio", "step_time", "generation_s"}
    assert [m["step"] for m in metrics] == [1, 2, 3] and all(keys <= set(m) for m in metrics), metrics[0]
    assert all(0 < m["generation_s"] < m["step_time"] for m in metrics)
    samples = stage4_grpo.read_samples(record["id"])
    assert {s["step"] for s in samples} == {1, 2, 3} and len(samples) == 3 * 4
    for s in samples:  # each sample's reward is the checker's verdict on its text, weighted as configured
        text = s["completion"]
        assert s["rewards"]["correct"] == float(text.islower()), s
        assert s["reward"] == pytest.approx(s["rewards"]["correct"] + 0.5 * s["rewards"]["length"])
    assert any(0 < m["rewards/correct/mean"] < 1 for m in metrics)  # groups with signal, so the adapter moved
    assert base_tensors_unchanged(trainer.model, tiny_path) >= 20
    adapter = load_file(Path(record["artifact_dir"]) / "adapter_model.safetensors")
    assert any(t.abs().sum() > 0 for k, t in adapter.items() if k.endswith("lora_B.weight"))
    assert 0.005 < record["trainable_params"] / record["total_params"] < 0.05


def test_stage4_presets_train_from_the_cli(run_cli, playground_home):
    for preset, field in (("stage4_dpo.yaml", "rewards/margins"), ("stage4_grpo.yaml", "reward")):
        extra = ["--set", "max_completion_length=4"] if "grpo" in preset else []
        result = run_cli("train", f"assets/configs/{preset}", "--set", "base_model=tiny", "--set", "max_steps=2",
                         "--set", "save_steps=0", *extra, "--json")
        assert result.returncode == 0, result.stderr[-3000:]
        record = json.loads(result.stdout.strip().splitlines()[-1])
        assert record["status"] == "completed" and record["stage"] == preset.removesuffix(".yaml")
        assert record["method"] == "lora" and 0.005 < record["trainable_params"] / record["total_params"] < 0.05
        assert (Path(record["artifact_dir"]) / "adapter_config.json").is_file()
        assert all(field in m for m in runs.read_metrics(record["id"]))


def test_stage4_rows_are_validated_with_their_lines(write_jsonl, tiny_config):
    from trainers.data import DatasetError
    from trainers.stages import preflight

    pairs = write_jsonl([{"prompt": "Capital of France?", "chosen": "Paris", "rejected": "Lyon"},
                         {"prompt": "Capital of Spain?", "chosen": "Madrid", "rejected": " Madrid"},
                         {"prompt": "Capital of Peru?", "chosen": "", "rejected": "Quito"},
                         {"prompt": "Capital of Chile?"}], "pairs.jsonl")
    problems = [str(p) for p in validate_rows(load_rows(pairs), "preference")]
    assert problems == ["line 2: rejected: identical to chosen: the pair prefers nothing",
                        "line 3: chosen: empty text", "line 4: chosen: missing required field",
                        "line 4: rejected: missing required field"]
    with pytest.raises(DatasetError, match="line 2: rejected: identical"):
        preflight(tiny_config("stage4_dpo.yaml", dataset=str(pairs)))
    prompts = write_jsonl([{"prompt": "2 + 2?", "check": {"type": "numeric", "answer": 4}},
                           {"prompt": "Say hi.", "check": {"type": "vibes"}},
                           {"prompt": "Say hi.", "check": "hi"},
                           {"prompt": "Add.", "check": {"type": "code", "function": "add", "tests": []}},
                           {"prompt": "No check."}], "prompts.jsonl")
    problems = [str(p) for p in validate_rows(load_rows(prompts), "grpo")]
    assert problems[0].startswith("line 2: check: type must be one of"), problems
    assert problems[1:] == ["line 3: check: expected an object, got str",
                            "line 4: check: code needs 'tests', a non-empty list of Python statements",
                            "line 5: check: missing required field"]


def test_the_shipped_stage4_data_is_valid_and_its_checks_accept_the_right_answers():
    from evalsuite.scorers import score_details

    pairs = load_rows(REPO / "assets" / "datasets" / "preference.jsonl")
    prompts = load_rows(REPO / "assets" / "datasets" / "grpo_prompts.jsonl")
    assert len(pairs) >= 300 and len(prompts) >= 100
    assert not [p for p in validate_rows(pairs, "preference") + validate_rows(prompts, "grpo") if p.level == "error"]
    kinds = {row.data["check"]["type"] for row in prompts}
    assert kinds == {"exact", "numeric", "constraints", "code"}
    for row in prompts:  # a wrong answer fails every check (so the reward can tell them apart)
        assert not score_details(row.data, "I do not know.")["passed"], row.data["id"]


def test_preference_pairs_from_a_models_own_answers_pass_and_fail_their_check(tiny_path):
    from evalsuite.scorers import score_details
    from trainers.adapters import ModelHub
    from trainers.pairs import build_preference_pairs, pairs_for_prompt

    numeric = {"prompt": "What is 6 x 7?", "check": {"type": "numeric", "answer": 42}}
    pairs, scored = pairs_for_prompt(numeric, ["It is 42, I think", "42", "41", "42", " "])
    assert pairs == [{"prompt": "What is 6 x 7?", "chosen": "42", "rejected": "41"}]  # shortest pass, worst fail
    assert len(scored) == 3  # distinct, non-empty answers
    # The tiny model's sampled answers, judged by a check that passes about half of them
    check = {"type": "constraints", "constraints": [{"kind": "letter_frequency", "letter": "e", "n": 1}]}
    rows = [{"prompt": f"Write about {word}.", "check": check} for word, _ in LEARNABLE[:6]]
    pairs, stats = build_preference_pairs(ModelHub("tiny", dtype="fp32"), "base", rows, samples=6, temperature=1.0,
                                          max_new_tokens=3)
    assert pairs and stats["pairs"] == len(pairs) and stats["answers"] == 36
    for pair in pairs:
        query = {"check": check, "category": ""}
        assert score_details(query, pair["chosen"])["passed"] and not score_details(query, pair["rejected"])["passed"]
        assert pair["prompt"] in {r["prompt"] for r in rows}


def brevity(completions, checks, **kwargs):
    """A custom reward for the test below: named in a config as test_engine_stage4:brevity."""
    assert all("type" in c for c in checks)
    return [1.0 / (1 + len(c)) for c in completions]


def test_reward_functions_are_the_suite_checkers_or_named_python_functions():
    from trainers.rewards import reward_functions

    correct, fmt, length, custom = reward_functions(["correct", "format", "length", "test_engine_stage4:brevity"],
                                                    max_completion_length=10)
    assert [f.__name__ for f in (correct, fmt, length, custom)] == ["correct", "format", "length", "brevity"]
    checks = [json.dumps({"type": "numeric", "answer": 42, "units": ["m"]})] * 3
    answers = ["42 m", "The answer is 42.", "41"]
    assert correct(completions=answers, check_json=checks) == [1.0, 1.0, 0.0]  # the suite's flexible numeric score
    assert fmt(completions=answers, check_json=checks) == [1.0, 0.0, 1.0]  # a bare number is the expected shape
    assert length(completions=answers, completion_ids=[[1] * 2, [1] * 10, [1] * 5]) == [0.8, 0.0, 0.5]
    assert custom(completions=["ab"], check_json=checks[:1]) == [1 / 3]
    with pytest.raises(ValueError, match="reward_funcs: 'vibes'"):
        reward_functions(["vibes"], 10)
    problems = build_config({"stage": "stage4_grpo", "method": "lora", "reward_weights": "1,2"}).validate()
    assert problems == ["reward_weights: 2 weight(s) for 3 reward function(s)"]


def test_efficiency_table_compares_sft_runs_only():
    from trainers.efficiency import pick_comparable

    stage3 = {"id": "a", "stage": "stage3", "method": "lora", "status": "completed", "base_model": "m", "dataset": "d"}
    dpo = {**stage3, "id": "b", "stage": "stage4_dpo", "dataset": "p"}
    assert pick_comparable([dpo, stage3])["lora"]["id"] == "a"
