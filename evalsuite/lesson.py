"""The class preset: what a teacher runs before class so the Lesson tab has runs to point at, and the one-stage
live retrain to show in class. Both are ordinary jobs.

    job = submit_lesson("outputs/lesson/x")       # train Stage 1, Stage 2, LoRA; evaluate base + 3; judge
    run_id, job = submit_live_retrain("stage1")   # one stage again, with the short live preset
    lesson_phases(out_dir), live_config("lora")   # what those queue, for an estimate before either starts

The preset is the reproduce job on three stages (QLoRA's lesson is memory, which the Runs tab shows from any run)
with fewer steps and fewer queries.
"""

from pathlib import Path

from evalsuite.reproduce import reproduce_phases

LESSON_STAGES = ("stage1", "stage2", "lora")
# 20 steps, not 30: the class preset has to fit 5 minutes on a 2-core CPU without native bf16. At 30 steps it took
# 338 s there (AVX2 EPYC, fp32, idle: trainings 86 + 66 + 68 s, evaluation 98 s); the loss had levelled off by
# steps 16-20 (Stage 1 0.45 there against 0.43 over steps 26-30; Stage 2 0.59 / 0.63; LoRA 0.58 / 0.61), and the
# cosine schedule ends at whatever step count is set.
LESSON_PRESET = {"max_steps": 20, "save_steps": 0, "max_length": 128}
LESSON_LIMIT = 18  # suite queries, three per category
LIVE_PRESET = {"max_steps": 12, "save_steps": 0, "max_length": 128, "logging_steps": 1}
LIVE_CONFIGS = {"stage1": "stage1_sft.yaml", "stage2": "stage2_instruction.yaml", "lora": "stage3_lora.yaml"}


def lesson_phases(out_dir, base_model: str = "embedded", steps: int = 0, limit: int = LESSON_LIMIT,
                  label: str = "lesson") -> list[dict]:
    return reproduce_phases(out_dir, base_model, steps, limit, max_new_tokens=32, stages=LESSON_STAGES,
                            preset=LESSON_PRESET, label=label)


def submit_lesson(out_dir, base_model: str = "embedded", steps: int = 0, limit: int = LESSON_LIMIT,
                  owner: str = "local", queue=None) -> dict:
    from trainers.job_queue import QUEUE
    from trainers.submit import check_phases

    Path(out_dir).mkdir(parents=True, exist_ok=True)
    phases = lesson_phases(out_dir, base_model, steps, limit)
    check_phases(phases)
    return (queue or QUEUE).submit("lesson", phases, owner=owner, title=f"prepare the lesson on {base_model}")


def live_config(stage: str, base_model: str = "embedded", steps: int = 0):
    """The TrainConfig of a live retrain of `stage`."""
    from trainers.config import load_config
    from trainers.paths import CONFIGS

    if stage not in LIVE_CONFIGS:
        raise ValueError(f"stage: '{stage}' is not one of {', '.join(LIVE_CONFIGS)}")
    overrides = {**LIVE_PRESET, "base_model": base_model, "run_name": f"live-{stage}"}
    if steps:
        overrides["max_steps"] = steps
    return load_config(CONFIGS / LIVE_CONFIGS[stage], overrides)


def submit_live_retrain(stage: str, base_model: str = "embedded", steps: int = 0, owner: str = "local",
                        queue=None) -> tuple[str, dict]:
    from trainers.submit import submit_training

    return submit_training(live_config(stage, base_model, steps), owner=owner, queue=queue)
