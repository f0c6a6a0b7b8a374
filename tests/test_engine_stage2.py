"""Stage 2 rendering: rows go through several training templates (never a held-out one), reproducibly from the seed,
and the trainer puts loss on the completion only."""

import pytest

from trainers.config import TrainConfig
from trainers.data import load_valid_rows
from trainers.stage2_instruction import render_rows
from trainers.templates import CHAT, HELDOUT_TEMPLATES, TRAIN_TEMPLATES, loss_token_view, render_with_template

STAGE2 = "assets/datasets/stage2_instruction.jsonl"
# Text only a held-out template puts in a prompt.
HELDOUT_MARKERS = ("PROMPT >>", "REPLY >>", "[INST]", "[/INST]", "Request:\n", "---\nAnswer:")


def render(records, tokenizer, seed: int = 0, randomize: bool = True) -> list[dict]:
    return render_rows(records, "stage2", tokenizer, TrainConfig(template_seed=seed, randomize_templates=randomize))


@pytest.fixture(scope="module")
def stage2_records():
    fmt, records = load_valid_rows(STAGE2)
    assert fmt == "stage2"
    return records


def test_templates_are_drawn_from_the_training_set_only(stage2_records, tiny_tokenizer):
    examples = render(stage2_records, tiny_tokenizer, seed=0)
    used = [e["template"] for e in examples]
    assert set(used) <= set(TRAIN_TEMPLATES) and not set(used) & set(HELDOUT_TEMPLATES)
    assert len(set(used)) >= 5, set(used)  # 480 rows over 6 templates: every one should appear
    assert max(used.count(name) for name in set(used)) < 0.4 * len(used)  # a draw, not one dominant format
    for example, record in zip(examples, stage2_records, strict=True):
        # what the trainer sees is exactly the named template applied to the row
        assert example["prompt"] == render_with_template(example["template"], record["instruction"],
                                                         record.get("input") or "", tiny_tokenizer)
        assert example["completion"] == record["response"].strip()
        assert not any(marker in example["prompt"] for marker in HELDOUT_MARKERS)


def test_template_draw_is_deterministic_by_seed(stage2_records, tiny_tokenizer):
    def draw(seed):
        return [e["prompt"] for e in render(stage2_records, tiny_tokenizer, seed)]

    assert draw(0) == draw(0)
    assert draw(0) != draw(1)
    fixed = render(stage2_records, tiny_tokenizer, 0, randomize=False)
    assert {e["template"] for e in fixed} == {CHAT}


def test_training_dataset_uses_the_seeded_templates(tiny_config, tiny_tokenizer, stage2_records):
    from trainers.sft_core import build_dataset

    config = tiny_config("stage2_instruction.yaml", max_length=256, template_seed=7)
    dataset = build_dataset(config, tiny_tokenizer, render_rows)
    expected = render(stage2_records, tiny_tokenizer, seed=7)
    assert dataset["prompt"] == [e["prompt"] for e in expected]
    starts = {p.split("\n", 1)[0].split(":")[0] for p in dataset["prompt"]}
    assert {"### Instruction", "Instruction", "Question", "Task", "User"} <= starts


@pytest.fixture(scope="module")
def stage2_trainer(tiny_path, tmp_path_factory):
    """TRL's SFTTrainer set up exactly as the engine sets it up for a Stage 2 run (no training)."""
    from transformers import AutoModelForCausalLM
    from trl import SFTTrainer

    from trainers.config import load_config
    from trainers.models import load_tokenizer
    from trainers.sft_core import build_dataset, sft_args

    config = load_config("assets/configs/stage2_instruction.yaml", {"base_model": "tiny", "max_length": 256})
    tokenizer = load_tokenizer(str(tiny_path))
    dataset = build_dataset(config, tokenizer, render_rows)
    model = AutoModelForCausalLM.from_pretrained(tiny_path)
    args = sft_args(config, tmp_path_factory.mktemp("stage2"), "cpu", bf16=False)
    return SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer), tokenizer


def test_loss_is_on_the_completion_only(stage2_trainer):
    trainer, tokenizer = stage2_trainer
    for example in trainer.train_dataset.select(range(40)):
        prompt_ids = tokenizer(example["prompt"], add_special_tokens=False)["input_ids"]
        labels = example["labels"]
        n_prompt = labels.index(next(t for t in labels if t != -100))
        assert n_prompt == len(prompt_ids) and example["input_ids"][:n_prompt] == prompt_ids
        assert set(labels[:n_prompt]) == {-100}
        # every completion token (and the end-of-turn token) is a target, unchanged
        assert labels[n_prompt:] == example["input_ids"][n_prompt:]
        assert example["completion"].endswith(tokenizer.eos_token)  # TRL appends the end-of-turn token
        assert tokenizer.decode(labels[n_prompt:]) == example["completion"]


def test_collated_batches_keep_prompt_tokens_out_of_the_loss(stage2_trainer):
    trainer, tokenizer = stage2_trainer
    examples = [trainer.train_dataset[i] for i in range(4)]
    batch = trainer.data_collator(examples)
    targets = [t for t in batch["labels"].flatten().tolist() if t != -100]
    completions = [tid for e in examples for tid, label in zip(e["input_ids"], e["labels"], strict=True)
                   if label != -100]
    assert targets == completions  # padding and prompt positions carry no loss, in padded or padding-free batches


def test_loss_token_view_matches_the_trainer(stage2_trainer):
    trainer, tokenizer = stage2_trainer
    for example in trainer.train_dataset.select(range(20)):
        completion = example["completion"].removesuffix(tokenizer.eos_token)
        view = loss_token_view(tokenizer, example["prompt"], completion)
        assert "".join(text for text, _ in view) == example["prompt"] + completion
        flags = [carries for _, carries in view]
        n_prompt = flags.index(True)
        assert not any(flags[:n_prompt]) and all(flags[n_prompt:])
        assert "".join(text for text, carries in view if carries) == completion
        # the trainer's targets are these tokens plus the end-of-turn token
        assert sum(flags) == sum(label != -100 for label in example["labels"]) - 1
