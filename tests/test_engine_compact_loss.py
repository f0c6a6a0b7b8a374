"""The LM head over labelled positions only gives TRL's loss, gradients and metrics, for a fraction of the work."""

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
                     completion_only_loss=True, bf16=False, disable_tqdm=True)
    return cls(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tiny_tokenizer)


def _step(trainer):
    """Loss, gradients and logged metrics of one batch, and how many positions the LM head projected."""
    batch = trainer._prepare_inputs(next(iter(trainer.get_train_dataloader())))
    projected = []
    head = trainer.model.get_output_embeddings()
    hook = head.register_forward_pre_hook(lambda _, args: projected.append(args[0].reshape(-1, args[0].shape[-1])))
    trainer.model.train()
    loss = trainer.compute_loss(trainer.model, batch)
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
