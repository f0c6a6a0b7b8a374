"""DPO and GRPO with TRL's fused head over labelled positions only give TRL's own loss, gradients and logged metrics,
for a fraction of the head's work, on the TRL versions that was checked against; on others TRL's trainer runs.

    python -m pytest -q tests/test_engine_compact_fused.py
"""

import pytest


def _lora():
    from peft import LoraConfig

    return LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")


def _model(tiny_path):
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    return AutoModelForCausalLM.from_pretrained(tiny_path, dtype=torch.float32)


def _nonzero_adapter(trainer):
    """LoRA starts with B = 0, where the rewards and margins are zero; a seeded B makes every number non-trivial."""
    import torch

    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, param in trainer.model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.05)


def _dpo(cls, tiny_path, tiny_tokenizer, tmp_path):
    from datasets import Dataset
    from trl import DPOConfig

    rows = [{"prompt": f"Question {i}: which colour is the sky on a clear day? Answer in one word, please.",
             "chosen": "Blue.", "rejected": f"It is green, number {i}, as everyone knows."} for i in range(4)]
    args = DPOConfig(output_dir=str(tmp_path / cls.__name__), per_device_train_batch_size=4, report_to="none",
                     use_cpu=True, bf16=False, max_length=128, disable_tqdm=True, gradient_checkpointing=False)
    trainer = cls(model=_model(tiny_path), ref_model=None, args=args, train_dataset=Dataset.from_list(rows),
                  processing_class=tiny_tokenizer, peft_config=_lora())
    _nonzero_adapter(trainer)
    return trainer


def _grpo(cls, tiny_path, tiny_tokenizer, tmp_path):
    from datasets import Dataset
    from trl import GRPOConfig

    def length(completions, **kwargs):
        return [float(len(c)) for c in completions]

    rows = [{"prompt": f"Question {i}: name a colour of the rainbow, then say why you chose it."} for i in range(2)]
    args = GRPOConfig(output_dir=str(tmp_path / cls.__name__), per_device_train_batch_size=4, num_generations=2,
                      max_completion_length=8, report_to="none", use_cpu=True, bf16=False, disable_tqdm=True,
                      gradient_checkpointing=False, seed=0, beta=0.1)
    trainer = cls(model=_model(tiny_path), reward_funcs=[length], args=args, train_dataset=Dataset.from_list(rows),
                  processing_class=tiny_tokenizer, peft_config=_lora())
    _nonzero_adapter(trainer)
    return trainer


def _step(trainer, monkeypatch):
    """Loss, LoRA gradients and logged metrics of one training step, and the rows each head call projected."""
    import torch
    from trl.trainer import utils

    scored, apply = [], utils._ChunkedLogProbFunction.apply
    torch.manual_seed(0)  # GRPO samples its completions
    batch = next(iter(trainer.get_train_dataloader()))
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 1  # set by the training loop, read by training_step
    with monkeypatch.context() as patch:
        patch.setattr(utils._ChunkedLogProbFunction, "apply",
                      lambda hidden, *rest: scored.append(hidden.shape[0]) or apply(hidden, *rest))
        loss = trainer.training_step(trainer.model, batch, None)
    grads = {n: p.grad.clone() for n, p in trainer.model.named_parameters() if p.grad is not None}
    metrics = {k: v[-1] for k, v in trainer._metrics["train"].items() if v and "time" not in k}  # timings differ
    return loss.item(), grads, metrics, scored


@pytest.mark.parametrize("build", [_dpo, _grpo], ids=["dpo", "grpo"])
def test_compact_head_matches_trls_loss_gradients_and_metrics(build, tiny_path, tiny_tokenizer, tmp_path,
                                                              monkeypatch):
    from trl import DPOTrainer, GRPOTrainer

    from trainers.compact_fused import stage4_trainer_class

    trl_class = DPOTrainer if build is _dpo else GRPOTrainer
    ref_loss, ref_grads, ref_metrics, ref_scored = _step(build(trl_class, tiny_path, tiny_tokenizer, tmp_path),
                                                         monkeypatch)
    fast = stage4_trainer_class(trl_class, compact_head=True)
    assert fast is not trl_class
    loss, grads, metrics, scored = _step(build(fast, tiny_path, tiny_tokenizer, tmp_path), monkeypatch)
    assert loss == pytest.approx(ref_loss, rel=1e-5, abs=1e-7)
    assert grads.keys() == ref_grads.keys() and grads
    for name, grad in grads.items():
        assert grad.allclose(ref_grads[name], rtol=1e-4, atol=1e-7), name
    assert metrics.keys() == ref_metrics.keys()
    for key, value in metrics.items():
        assert value == pytest.approx(ref_metrics[key], rel=1e-4, abs=1e-6), key
    if build is _dpo:
        assert abs(metrics["rewards/margins"]) > 1e-4  # a real preference signal was compared, not zeros
    # the work saved: every head call scored a small part of the positions TRL's CPU path scores
    assert len(scored) == len(ref_scored) and all(n < r / 2 for n, r in zip(scored, ref_scored, strict=True)), (
        scored, ref_scored)


def test_stage4_compact_head_is_used_only_on_the_tested_trl(caplog):
    import trl
    from trl import DPOTrainer

    from trainers.compact_fused import TESTED_TRL, stage4_trainer_class

    assert trl.__version__ in TESTED_TRL, f"TRL {trl.__version__}: re-run the equality test above, then widen"
    assert stage4_trainer_class(DPOTrainer, compact_head=False) is DPOTrainer
    with caplog.at_level("WARNING"):
        assert stage4_trainer_class(DPOTrainer, compact_head=True, trl_version="9.0.0") is DPOTrainer
    assert "outside the tested range" in caplog.text
