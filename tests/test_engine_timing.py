"""Time estimates learned on this machine (trainers/timing.py): every finished job records what it was predicted to
take and what it took, and teaches the calibration that prices the next one.

    python -m pytest -q tests/test_engine_timing.py
"""

import pytest

from trainers import jobs, runs, timing


def test_a_finished_job_records_estimated_and_measured_seconds_and_calibrates_the_next(job_queue, tiny_config,
                                                                                      learnable_dataset):
    from trainers.submit import submit_training

    config = tiny_config(dataset=str(learnable_dataset), max_steps=3)
    key = timing.training_key(config)
    run_id, job = submit_training(config, queue=job_queue)
    first = job_queue.wait(job["id"], timeout_s=300)
    assert first["status"] == "completed", first["error"]
    assert first["estimated_s"] is None and first["estimate"]["missing"] == [key]  # nothing measured yet
    assert first["measured_s"] > 0 and first["measured_s"] == first["phases"][0]["measured_s"]
    run = runs.read_run(run_id)
    assert run["measured_s"] == first["measured_s"] and run["estimated_s"] is None
    entry = timing.load_calibration()[key]
    assert entry["rate_s"] == pytest.approx(run["train_s"] / run["tokens_trained"])
    assert 0 <= entry["overhead_s"] < first["measured_s"]

    config = tiny_config(dataset=str(learnable_dataset), max_steps=6)
    run_id, job = submit_training(config, queue=job_queue)
    second = job_queue.wait(job["id"], timeout_s=300)
    assert second["status"] == "completed", second["error"]
    # priced before it ran: all six steps of it
    expected = entry["overhead_s"] + timing.plan_training(config)["units"] * entry["rate_s"]
    assert second["estimated_s"] == pytest.approx(expected, abs=0.1)
    error = timing.estimate_error(second)
    assert error == pytest.approx((second["estimated_s"] - second["measured_s"]) / second["measured_s"], abs=1e-3)
    assert second["estimate_error"] == error and timing.estimate_error(second["id"]) == error
    run = runs.read_run(run_id)
    assert (run["estimated_s"], run["measured_s"]) == (second["estimated_s"], second["measured_s"])
    assert len(timing.load_calibration()[key]["samples"]) == 2
    assert timing.describe_outcome(second).endswith(f"({error:+.0%})")


def test_an_evaluation_job_calibrates_the_seconds_per_answer(job_queue, playground_home):
    from evalsuite.runner import planned_generations
    from trainers.submit import submit_eval

    job = submit_eval(["base"], playground_home / "eval", base_model="tiny", limit=1, max_new_tokens=4,
                      queue=job_queue)
    record = job_queue.wait(job["id"], timeout_s=300)
    assert record["status"] == "completed", record["error"]
    result = record["phases"][0]["result"]
    key = timing.work_key("tiny", *timing.machine(), "eval")
    entry = timing.load_calibration()[key]
    assert entry["rate_s"] == pytest.approx(result["generate_s"] / (result["generated"] * 4))
    assert entry["overhead_s"] == pytest.approx(record["phases"][0]["measured_s"] - result["generate_s"], abs=0.01)
    again = timing.estimate_phases([jobs.phase("evaluate", "eval", models=["base", "other"], limit=1,
                                               max_new_tokens=8, base_model="tiny")])
    answers = planned_generations(2, 1)
    assert again["seconds"] == pytest.approx(entry["overhead_s"] + answers * 8 * entry["rate_s"], abs=0.1)


def test_plans_count_a_resumed_run_from_its_checkpoint_and_completed_phases_as_done(tiny_config, learnable_dataset):
    config = tiny_config(dataset=str(learnable_dataset), max_steps=10)
    full = timing.plan_training(config)
    assert full["steps"] == 10 and full["units"] == pytest.approx(10 * full["tokens_per_step"])
    assert timing.plan_training(config, start_step=4)["units"] == pytest.approx(6 * full["tokens_per_step"])
    held = timing.plan_training(tiny_config(dataset=str(learnable_dataset), max_steps=10, eval_fraction=0.25,
                                            eval_steps=5))
    assert held["units"] > full["units"]  # its evaluations cost forward passes
    phase = {**jobs.phase("train", "train", config={}), "status": "completed"}
    assert timing.estimate_phases([phase])["seconds"] == 0.0


def test_a_slow_estimate_does_not_hold_the_request_and_lands_before_the_job_starts(job_queue, tiny_config,
                                                                                 learnable_dataset, monkeypatch):
    """Pricing a job imports transformers and reads its datasets the first time in a process (seconds, half a minute
    on a busy CPU): the request answers without waiting, and the supervisor starts the job only once it is priced."""
    import time

    from trainers.submit import submit_training

    real, priced = timing.safe_estimate, []

    def slow_estimate(phases):
        time.sleep(8)
        estimate = real(phases)
        priced.append(runs.now_iso())
        return estimate

    monkeypatch.setattr(timing, "safe_estimate", slow_estimate)
    started = time.perf_counter()
    _, job = submit_training(tiny_config(dataset=str(learnable_dataset), max_steps=2), queue=job_queue)
    assert time.perf_counter() - started < 8, "the request waited for its estimate"
    assert job["estimate"]["pending"] and "on its way" in timing.describe_job(job)
    record = job_queue.wait(job["id"], timeout_s=300)
    assert record["status"] == "completed", record["error"]
    assert not record["estimate"].get("pending") and record["estimate"]["missing"]  # priced: nothing measured yet
    assert priced and record["started_at"] >= priced[0]
