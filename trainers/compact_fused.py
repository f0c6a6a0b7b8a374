"""DPO and GRPO score completion tokens only, on every device.

Both trainers get per-token log-probs from TRL's fused LM head (`add_fused_lm_head`), which projects through the
49k-token vocabulary only the positions with a label where Triton runs (CUDA, XPU) and every position elsewhere,
prompt and padding included, masking the result afterwards. On the Stage 4 starter data the prompt (chat template,
system line, question) is most of each row, so on a CPU most of the head's work is thrown away, in the policy's
forward and backward and in the reference pass.

The choice is one call inside the fused forward, `trl.trainer.utils._use_triton(device)`, looked up at call time.
For the duration of a training or evaluation step the trainers here answer it with True, so the head takes TRL's
own compact branch (the labelled positions gathered, scored by the same tiled kernel, scattered back). The kernel
itself picks Triton or torch through its own module's binding, which stays as it was. Same positions, same
arithmetic per position: tests/test_engine_compact_fused.py checks the loss, the logged metrics and the adapter's
gradients against TRL's own path.

This leans on a private name, so it holds for the TRL versions it was checked against: outside `TESTED_TRL`, or when
the name is gone, `stage4_trainer_class` hands back TRL's own trainer and says so in one line.

    trainer_class = stage4_trainer_class(DPOTrainer, config.compact_head)
"""

import logging
from contextlib import contextmanager

import trl
from packaging.specifiers import SpecifierSet

TESTED_TRL = SpecifierSet(">=1.16,<1.17")  # trl/trainer/utils.py add_fused_lm_head as read in TRL 1.16.0
logger = logging.getLogger(__name__)


def _head_module():
    from trl.trainer import utils

    return utils if callable(getattr(utils, "_use_triton", None)) else None


@contextmanager
def labelled_positions_only():
    """For the block, TRL's fused head scores only positions with a label, whatever the device."""
    module = _head_module()
    original = module._use_triton
    module._use_triton = lambda device: True
    try:
        yield
    finally:
        module._use_triton = original


class _CompactSteps:
    def training_step(self, *args, **kwargs):
        with labelled_positions_only():
            return super().training_step(*args, **kwargs)

    def prediction_step(self, *args, **kwargs):
        with labelled_positions_only():
            return super().prediction_step(*args, **kwargs)


def stage4_trainer_class(trainer_class: type, compact_head: bool, trl_version: str = trl.__version__) -> type:
    """`trainer_class` (TRL's DPOTrainer or GRPOTrainer) with its fused head scoring labelled positions only where
    that was proven equal to TRL's own path; TRL's class itself otherwise."""
    if not compact_head:
        return trainer_class
    if trl_version not in TESTED_TRL or _head_module() is None:
        logger.warning("compact_head: TRL %s is outside the tested range %s; %s scores every position on this device",
                       trl_version, TESTED_TRL, trainer_class.__name__)
        return trainer_class
    return type(f"CompactHead{trainer_class.__name__}", (_CompactSteps, trainer_class), {})


__all__ = ["TESTED_TRL", "labelled_positions_only", "stage4_trainer_class"]
