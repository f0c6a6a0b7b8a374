"""The class preset end to end (evalsuite/lesson.py: train Stage 1, Stage 2, LoRA; evaluate base + 3; judge), as the
Lesson tab runs it: one job, a worker process per phase. Prints lesson_s and each phase's seconds, and
lesson_estimate_error: how far the time the Lesson tab predicted before the start (trainers/timing.py, calibrated by
the jobs this machine finished before) was from lesson_s."""

import tempfile
import time

from bench.common import emit


def bench_lesson(base_model: str = "embedded") -> None:
    from evalsuite.lesson import LESSON_LIMIT, lesson_phases
    from evalsuite.lesson import LESSON_PRESET as preset
    from trainers import jobs
    from trainers.job_queue import supervise
    from trainers.runs import duration_s
    from trainers.timing import relative_error

    out = tempfile.mkdtemp(prefix="bench-lesson-")
    phases = lesson_phases(out, base_model, 0, LESSON_LIMIT, label="bench-lesson")
    job = jobs.create_job("lesson", phases, owner="bench", title="bench: the class preset")  # estimates it
    started = time.perf_counter()
    record = supervise(job["id"])
    seconds = time.perf_counter() - started
    per_phase = {p["name"]: round(duration_s(p) or 0, 1) for p in record["phases"]}
    emit("lesson_s", seconds, "s", target="<= 300 (AVX2, idle)", status=record["status"], phases=per_phase,
         steps=preset["max_steps"], queries=LESSON_LIMIT, error=record["error"])
    estimated = job["estimated_s"]
    emit("lesson_estimate_error", relative_error(estimated, seconds), "relative (estimated - measured) / measured",
         estimated_s=estimated, measured_s=round(seconds, 1), calibrated_at=job["estimate"]["calibrated_at"],
         missing=job["estimate"]["missing"] or None,
         phases={p["name"]: [p["estimated_s"], p.get("measured_s")] for p in jobs.read_job(job["id"])["phases"]})
