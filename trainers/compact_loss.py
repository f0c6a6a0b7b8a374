"""Projecting only the labelled positions onto the vocabulary.

TRL's fused LM head scores every position of a batch on devices without Triton (prompt and padding too) and masks the
result afterwards. With completion-only loss most positions carry no label: on the starter data four in five are
prompt, and the head over a 49k vocabulary is a third of a LoRA step. `SFTTrainer.compute_loss` here asks the model
for the logits of the labelled positions only (transformers' boolean `logits_to_keep`), which is what TRL already
does on CUDA. The loss is the same mean over completion tokens, and the entropy / token-accuracy metrics are kept.

The model's own forward is used, so scaling, soft-capping, PEFT and DDP behave as usual. Batches whose kept logits
would be large (long completions) take TRL's tiled path, which never materializes them.

The bookkeeping around the loss (the DDP / tensor-parallel scale, the metrics) copies TRL's `SFTTrainer.compute_loss`,
so it holds for the TRL versions it was checked against (tests/test_engine_compact_loss.py proves loss, gradients and
metrics equal). Outside `TESTED_TRL`, `sft_trainer_class` hands back TRL's own `SFTTrainer` and says so in one line:
a TRL bump fails the version test until the equality tests pass again and the range is widened.

    trainer_class = sft_trainer_class(config.compact_head)   # CompactHeadSFTTrainer or SFTTrainer
"""

import logging

import trl
from packaging.specifiers import SpecifierSet
from trl import SFTTrainer

MAX_KEPT_LOGITS = 32 * 2**20  # positions x vocab: ~64 MB of bf16 logits, in the range of TRL's own tile buffer
TESTED_TRL = SpecifierSet(">=1.16,<1.17")  # SFTTrainer.compute_loss as read in TRL 1.16.0
logger = logging.getLogger(__name__)


def sft_trainer_class(compact_head: bool, trl_version: str = trl.__version__) -> type[SFTTrainer]:
    """The trainer to use: the compact head where it was proven equal to this TRL's loss, else TRL's SFTTrainer."""
    if not compact_head:
        return SFTTrainer
    if trl_version not in TESTED_TRL:
        logger.warning("compact_head: TRL %s is outside the tested range %s; training with TRL's own SFTTrainer loss",
                       trl_version, TESTED_TRL)
        return SFTTrainer
    return CompactHeadSFTTrainer


class CompactHeadSFTTrainer(SFTTrainer):
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        keep = self._labelled_positions(inputs, return_outputs)
        if keep is None:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        import torch

        mode = "train" if self.model.training else "eval"
        labels = inputs["labels"]
        targets = labels[:, 1:][keep[:, :-1]]
        logits = model(**{k: v for k, v in inputs.items() if k != "labels"}, use_cache=False,
                       logits_to_keep=keep).logits
        logits = logits.reshape(-1, logits.shape[-1])
        log_probs = torch.log_softmax(logits.float(), dim=-1)
        token_log_probs = log_probs.gather(-1, targets[:, None]).squeeze(-1)
        divisor = targets.numel() if num_items_in_batch is None else num_items_in_batch
        loss = -token_log_probs.sum() / torch.as_tensor(divisor).clamp(min=1)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            # as TRL: num_items_in_batch counts every rank's tokens and DDP averages the gradients across ranks;
            # tensor-parallel ranks share one batch, so they count once
            loss = loss * (self.accelerator.num_processes // self.get_tp_size())
        with torch.no_grad():
            entropy = -(log_probs.exp() * log_probs).sum(-1)
            correct = log_probs.argmax(-1) == targets
        self._log_metrics(mode, inputs, targets.numel(), entropy.sum(), correct.sum())
        return loss

    def _labelled_positions(self, inputs, return_outputs):
        """A (batch, seq) mask of positions whose next token is a label, or None where TRL's own path applies."""
        import torch

        labels = inputs.get("labels")
        plain_loss = (self.compute_loss_func is None and self.label_smoother is None and not self.aux_loss_enabled
                      and self.args.loss_type == "nll" and "shift_labels" not in inputs)
        # TRL's own branches: Ulysses sequence parallelism (the model reduces its loss across ranks) and batches
        # without a mask or position ids (TRL cannot count their tokens and says so)
        parallel = self.accelerator.parallelism_config
        sequence_parallel = parallel is not None and parallel.sp_backend == "deepspeed" and parallel.sp_enabled
        counted = "attention_mask" in inputs or "position_ids" in inputs
        if (labels is None or return_outputs or not plain_loss or sequence_parallel or not counted
                or labels.device.type in ("cuda", "xpu")):
            return None
        keep = torch.zeros_like(labels, dtype=torch.bool)
        keep[:, :-1] = labels[:, 1:] != -100
        if int(keep.sum()) * self._vocab_size() > MAX_KEPT_LOGITS:
            return None
        return keep

    def _vocab_size(self) -> int:
        return self.accelerator.unwrap_model(self.model).get_output_embeddings().weight.shape[0]

    def _log_metrics(self, mode, inputs, num_valid, entropy_sum, num_correct):
        """The metrics TRL's compute_loss logs, from the same quantities."""
        gather = self.accelerator.gather_for_metrics
        num_valid = gather(entropy_sum.new_tensor(num_valid)).sum()
        entropy_sum, num_correct = gather(entropy_sum).sum(), gather(num_correct).sum()
        self._metrics[mode]["entropy"].append((entropy_sum / num_valid).item() if num_valid > 0 else 0.0)
        self._metrics[mode]["mean_token_accuracy"].append((num_correct / num_valid).item() if num_valid > 0 else 0.0)
        if mode == "train":
            if "attention_mask" in inputs:
                local = inputs["attention_mask"].sum()
            else:  # padding-free rows carry position_ids instead of a mask, and no padding
                local = entropy_sum.new_tensor(inputs["position_ids"].size(1))
            self._total_train_tokens += int(gather(local).sum().item()) // self._tp_size  # TP ranks share a batch
        self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
