"""The class preset end to end (evalsuite/lesson.py: train Stage 1, Stage 2, LoRA; evaluate base + 3; judge), as the
Lesson tab runs it: one job, a worker process per phase. Prints lesson_s and each phase's seconds."""

import tempfile
import time

from bench.common import emit


def bench_lesson(base_model: str = "embedded") -> None:
    from evalsuite.lesson import LESSON_LIMIT, LESSON_STAGES
    from evalsuite.lesson import LESSON_PRESET as preset
    from evalsuite.reproduce import reproduce_phases
    from trainers import jobs
    from trainers.job_queue import supervise
    from trainers.runs import duration_s

    out = tempfile.mkdtemp(prefix="bench-lesson-")
    phases = reproduce_phases(out, base_model, 0, LESSON_LIMIT, max_new_tokens=32, stages=LESSON_STAGES,
                              preset=preset, label="bench-lesson")
    job = jobs.create_job("lesson", phases, owner="bench", title="bench: the class preset")
    started = time.perf_counter()
    record = supervise(job["id"])
    seconds = time.perf_counter() - started
    per_phase = {p["name"]: round(duration_s(p) or 0, 1) for p in record["phases"]}
    emit("lesson_s", seconds, "s", target="<= 300 (AVX2, idle)", status=record["status"], phases=per_phase,
         steps=preset["max_steps"], queries=LESSON_LIMIT, error=record["error"])
