"""Real training runs on the tiny model: full SFT learns and moves every weight; LoRA moves only the adapters;
QLoRA trains adapters on a 4-bit base. Each test reads the artifacts the run left on disk."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from trainers import runs
from trainers.config import to_dict
from trainers.data import load_valid_rows
from trainers.sft_core import train_with_sft
from trainers.stage1_sft import render_rows as render_stage1_rows
from trainers.stage3_lora import build_adapter_model, render_rows

METRIC_KEYS = {"step", "loss", "learning_rate", "grad_norm", "tokens_per_second", "elapsed_s"}


@pytest.fixture(scope="module")
def stage1_run(tmp_path_factory, tiny_path):
    """Full SFT (stage1 config) on a learnable 16-row mapping, lr 1e-2, 16 steps of 4 rows = 1 epoch."""
    from conftest import TINY, learnable_rows, train_in_process
    from trainers.config import load_config

    home = tmp_path_factory.mktemp("stage1-home")
    data = home / "learnable.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in learnable_rows()))
    config = load_config("assets/configs/stage1_sft.yaml", {**TINY, "dataset": str(data), "learning_rate": 1e-2,
                                                             "max_steps": 16, "per_device_train_batch_size": 4})
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLAYGROUND_HOME", str(home))
        record = train_in_process(config)
        metrics = runs.read_metrics(record["id"])
    return record, metrics, config


def test_full_sft_loss_falls_on_a_learnable_mapping(stage1_run):
    record, metrics, _ = stage1_run
    assert record["status"] == "completed", record["error"]
    assert [m["step"] for m in metrics] == list(range(1, 17))
    assert all(METRIC_KEYS <= set(m) for m in metrics)
    losses = [m["loss"] for m in metrics]
    assert losses[0] > 10  # ~ln(49152): the random model knows nothing
    assert losses[-1] < 0.6 * losses[0], losses
    assert sum(losses[-4:]) / 4 < sum(losses[:4]) / 4 - 3, losses
    assert record["final_loss"] == pytest.approx(sum(losses[-5:]) / 5)  # where the last five steps settled


def test_tokens_per_second_counts_each_trained_batch(stage1_run, tiny_tokenizer):
    # tokens_per_second * the interval since the previous line = the tokens of that step's batch: 4 rows whose
    # lengths we know. A collator-side count would be a batch late: double on step 1, zero on the last step.
    record, metrics, config = stage1_run
    fmt, rows = load_valid_rows(config.dataset)
    examples = render_stage1_rows(rows, fmt, tiny_tokenizer)
    lengths = [len(tiny_tokenizer(e["prompt"] + e["completion"] + tiny_tokenizer.eos_token,
                                  add_special_tokens=False)["input_ids"]) for e in examples]
    low, high = 4 * min(lengths), 4 * max(lengths)
    previous = 0.0
    for m in metrics:
        tokens = m["tokens_per_second"] * (m["elapsed_s"] - previous)
        previous = m["elapsed_s"]
        assert 0.95 * low <= tokens <= 1.05 * high, (m["step"], tokens, low, high)
    assert record["tokens_per_second"] > 0


def test_full_sft_changes_every_weight(stage1_run, tiny_path):
    record, _, _ = stage1_run
    base = load_file(tiny_path / "model.safetensors")
    trained = load_file(Path(record["artifact_dir"]) / "model.safetensors")
    assert set(trained) == set(base) and len(base) >= 20
    for name, before in base.items():
        after = trained[name].to(before.dtype)
        assert after.shape == before.shape
        assert not torch.equal(after, before), f"{name} did not change"
        if before.dim() == 2:  # every linear and the (tied) embedding moved almost everywhere
            assert (after != before).float().mean() > 0.9, name
    assert record["trainable_params"] == record["total_params"] == sum(t.numel() for t in base.values())


class KeepModel:
    """The stage's own model builder, keeping a handle on what it built so the test can inspect it after training."""

    def __init__(self, build, snapshot: bool = True):
        self.build, self.snapshot, self.model, self.at_start = build, snapshot, None, {}

    def __call__(self, *args):
        self.model = self.build(*args)
        if self.snapshot:
            self.at_start = {n: p.detach().clone() for n, p in self.model.named_parameters()}
        return self.model


def train_kept(config) -> tuple[dict, KeepModel]:
    run_id = runs.new_run_id(config.stage, config.method)
    runs.create_run(run_id, to_dict(config))
    keeper = KeepModel(build_adapter_model)
    return train_with_sft(config, run_id, keeper, render_rows), keeper


def test_lora_trains_adapters_and_leaves_the_base_bit_identical(tiny_config, learnable_dataset, tiny_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    config = tiny_config("stage3_lora.yaml", dataset=str(learnable_dataset), learning_rate=1e-2, max_steps=4)
    result, kept = train_kept(config)
    lora = {n for n in kept.at_start if "lora_" in n}
    assert lora and all(not kept.model.get_parameter(n).requires_grad for n in set(kept.at_start) - lora)
    assert all(torch.count_nonzero(kept.at_start[n]) == 0 for n in lora if "lora_B" in n)  # PEFT's init

    # the base: bit-identical to what was loaded, which is the checkpoint on disk in the compute dtype
    on_disk = load_file(tiny_path / "model.safetensors")
    for name, before in kept.at_start.items():
        if name in lora:
            continue
        assert torch.equal(kept.model.get_parameter(name), before), f"frozen {name} changed"
        key = name.removeprefix("base_model.model.").replace(".base_layer", "")
        assert torch.equal(before, on_disk[key].to(before.dtype)), key

    # the adapter on disk: every lora_B left zero, lora_A moved from its random init
    saved = load_file(Path(result["artifact_dir"]) / "adapter_model.safetensors")
    b_tensors = {k: v for k, v in saved.items() if "lora_B" in k}
    assert len(b_tensors) == 14  # 7 projections x 2 layers
    assert all(torch.count_nonzero(v) > 0 for v in b_tensors.values())
    a_init = {n.replace(".default", ""): t for n, t in kept.at_start.items() if "lora_A" in n}
    assert all(not torch.equal(saved[k], a_init[k].to(saved[k].dtype)) for k in saved if "lora_A" in k)
    assert result["trainable_params"] == sum(kept.at_start[n].numel() for n in lora) == 32768

    # a fresh base with the adapter folder loaded by plain PEFT answers differently from the bare base
    ids = torch.tensor([[1, 2, 3, 4, 5, 6]])
    fresh = AutoModelForCausalLM.from_pretrained(tiny_path, dtype=torch.float32).eval()
    with torch.no_grad():
        base_logits = fresh(ids).logits
        adapted = PeftModel.from_pretrained(fresh, result["artifact_dir"]).eval()
        adapted_logits = adapted(ids).logits
        with adapted.disable_adapter():
            assert torch.equal(adapted(ids).logits, base_logits)
    assert (adapted_logits - base_logits).abs().max() > 1e-3


def test_qlora_trains_adapters_on_a_4bit_base(tiny_config, learnable_dataset):
    import bitsandbytes as bnb

    config = tiny_config("stage3_qlora.yaml", dataset=str(learnable_dataset), max_steps=2)
    seen = []  # (module class, weight dtype, weight class, training mode) at every forward during training

    class Spy(KeepModel):
        def __call__(self, *args):
            model = super().__call__(*args)
            for module in model.modules():
                if isinstance(module, bnb.nn.Linear4bit):
                    module.register_forward_pre_hook(lambda m, _: seen.append(
                        (type(m), m.weight.dtype, type(m.weight).__name__, m.training, torch.is_grad_enabled())))
            return model

    run_id = runs.new_run_id(config.stage, config.method)
    runs.create_run(run_id, to_dict(config))
    spy = Spy(build_adapter_model, snapshot=False)
    result = train_with_sft(config, run_id, spy, render_rows)

    quantized = [m for m in spy.model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert len(quantized) == 14  # every attention and MLP projection of both layers
    assert seen and {s[1:] for s in seen} == {(torch.uint8, "Params4bit", True, True)}
    assert len(seen) >= 14 * 2  # each 4-bit layer ran forward in each of the 2 training steps
    artifact = Path(result["artifact_dir"])
    assert (artifact / "adapter_config.json").is_file() and (artifact / "adapter_model.safetensors").is_file()
    assert not (artifact / "model.safetensors").exists()
    trainable, total = result["trainable_params"], result["total_params"]
    assert trainable == sum(p.numel() for n, p in spy.model.named_parameters() if "lora_" in n) == 32768
    assert total == 3219776 + trainable  # 4-bit weights counted at their logical size, not packed bytes
    assert 0.005 < trainable / total < 0.03


@pytest.mark.parametrize("bf16, expected", [("false", torch.float32), ("true", torch.bfloat16)])
def test_qlora_adapters_train_in_the_dtype_of_the_step(tiny_config, learnable_dataset, bf16, expected):
    # TRL casts a quantized model's adapters to bf16 when its trainer is built, whatever the step computes in; in an
    # fp32 step (a CPU without native bf16) that made every LoRA matmul emulated bf16, 2.7x slower per QLoRA step
    config = tiny_config("stage3_qlora.yaml", dataset=str(learnable_dataset), max_steps=2, bf16=bf16)
    seen = set()  # lora_A weight dtype at every forward during training

    class Spy(KeepModel):
        def __call__(self, *args):
            model = super().__call__(*args)
            for name, module in model.named_modules():
                if name.endswith("lora_A.default"):
                    module.register_forward_pre_hook(lambda m, _: seen.add(m.weight.dtype))
            return model

    run_id = runs.new_run_id(config.stage, config.method)
    runs.create_run(run_id, to_dict(config))
    result = train_with_sft(config, run_id, Spy(build_adapter_model, snapshot=False), render_rows)
    assert seen == {expected}
    saved = load_file(Path(result["artifact_dir"]) / "adapter_model.safetensors")
    assert {t.dtype for t in saved.values()} == {expected}
