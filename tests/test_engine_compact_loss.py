"""The LM head over labelled positions only gives TRL's loss, gradients and metrics, for a fraction of the work, on
the TRL versions it was checked against; on others training uses TRL's own SFTTrainer.

    python -m pytest -q tests/test_engine_compact_loss.py
"""

import pytest


def _trainer(cls, tiny_path, tiny_tokenizer, tmp_path, padding_free: bool):
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_path, dtype=torch.float32)
    model.config.use_cache = False
    rows = [{"prompt": f"Question {i}: what comes after {i}? Think about it and answer.", "completion": f" {i + 1}"}
            for i in range(4)]
    args = SFTConfig(output_dir=str(tmp_path / cls.__name__), per_device_train_batch_size=4, report_to="none",
                     use_cpu=True, padding_free=padding_free, max_length=None if padding_free else 128,
                     completion_only_loss=True, bf16=False, disable_tqdm=True,
                     activation_checkpointing=True)  # TRL's default, under transformers 5's name for it
    return cls(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tiny_tokenizer)


def _step(trainer, num_items_in_batch=None):
    """Loss, gradients and logged metrics of one batch, and how many positions the LM head projected."""
    batch = trainer._prepare_inputs(next(iter(trainer.get_train_dataloader())))
    projected = []
    head = trainer.model.get_output_embeddings()
    hook = head.register_forward_pre_hook(lambda _, args: projected.append(args[0].reshape(-1, args[0].shape[-1])))
    trainer.model.train()
    loss = trainer.compute_loss(trainer.model, batch, num_items_in_batch=num_items_in_batch)
    loss.backward()
    hook.remove()
    grads = {n: p.grad.clone() for n, p in trainer.model.named_parameters() if p.grad is not None}
    metrics = {k: v[-1] for k, v in trainer._metrics["train"].items()}
    labelled = int((batch["labels"][:, 1:] != -100).sum())
    return loss.item(), grads, metrics, projected, labelled


@pytest.mark.parametrize("padding_free", [True, False])
def test_compact_head_matches_trl_loss_gradients_and_metrics(tiny_path, tiny_tokenizer, tmp_path, padding_free):
    from trl import SFTTrainer

    from trainers.compact_loss import CompactHeadSFTTrainer

    ref_loss, ref_grads, ref_metrics, _, labelled = _step(
        _trainer(SFTTrainer, tiny_path, tiny_tokenizer, tmp_path, padding_free))
    loss, grads, metrics, projected, _ = _step(
        _trainer(CompactHeadSFTTrainer, tiny_path, tiny_tokenizer, tmp_path, padding_free))
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    assert grads.keys() == ref_grads.keys()
    for name, grad in grads.items():
        assert grad.allclose(ref_grads[name], rtol=1e-4, atol=1e-7), name
    for key in ("entropy", "mean_token_accuracy", "num_tokens"):
        assert metrics[key] == pytest.approx(ref_metrics[key], rel=1e-5), key
    # the work saved: the head saw only the positions whose next token is a completion token
    assert [p.shape[0] for p in projected] == [labelled]
    assert labelled < 20  # of ~90 positions in the batch


def test_long_completions_keep_trls_tiled_head(tiny_path, tiny_tokenizer, tmp_path, monkeypatch):
    """Past the size bound the logits are not materialized: TRL's own path runs (it never calls the plain head)."""
    from trainers import compact_loss

    monkeypatch.setattr(compact_loss, "MAX_KEPT_LOGITS", 1)
    trainer = _trainer(compact_loss.CompactHeadSFTTrainer, tiny_path, tiny_tokenizer, tmp_path, True)
    loss, _, _, projected, _ = _step(trainer)
    assert projected == [] and loss > 0


def test_parallel_bookkeeping_matches_trl(tiny_path, tiny_tokenizer, tmp_path, monkeypatch):
    """TRL scales the loss by the data-parallel size (processes / tensor-parallel size) when num_items_in_batch counts
    every rank's tokens, and counts a batch shared by tensor-parallel ranks once. Simulated: 4 processes, TP of 2."""
    from accelerate import Accelerator
    from trl import SFTTrainer

    from trainers.compact_loss import CompactHeadSFTTrainer

    monkeypatch.setattr(Accelerator, "num_processes", property(lambda self: 4))
    results = []
    for cls in (SFTTrainer, CompactHeadSFTTrainer):
        trainer = _trainer(cls, tiny_path, tiny_tokenizer, tmp_path, padding_free=True)
        trainer.args.average_tokens_across_devices = True
        trainer._tp_size = 2
        monkeypatch.setattr(trainer, "get_tp_size", lambda: 2)
        results.append(_step(trainer, num_items_in_batch=4 * 5))  # the token count of all ranks' micro-batches
    (ref_loss, _, ref_metrics, _, _), (loss, _, metrics, projected, labelled) = results
    assert [p.shape[0] for p in projected] == [labelled]  # the compact path ran, not TRL's
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    assert metrics["num_tokens"] == ref_metrics["num_tokens"]


def test_installed_trl_is_in_the_tested_range():
    """A TRL upgrade fails here: re-run the equality tests above against it, check SFTTrainer.compute_loss for new
    bookkeeping, then widen TESTED_TRL."""
    import trl

    from trainers.compact_loss import TESTED_TRL

    assert trl.__version__ in TESTED_TRL, f"TRL {trl.__version__} is not in the range the compact head was proven on"


def test_outside_the_tested_trl_range_training_uses_trls_own_trainer(caplog):
    import trl
    from trl import SFTTrainer

    from trainers.compact_loss import CompactHeadSFTTrainer, sft_trainer_class

    assert sft_trainer_class(True, trl.__version__) is CompactHeadSFTTrainer
    assert sft_trainer_class(False, trl.__version__) is SFTTrainer
    assert caplog.records == []
    for version in ("1.17.0", "1.15.2", "2.0.0"):
        caplog.clear()
        assert sft_trainer_class(True, version) is SFTTrainer
        [record] = caplog.records
        assert record.levelname == "WARNING" and f"TRL {version} is outside the tested range" in record.getMessage()
