"""The job system as the app runs it: a queue, a supervising thread, one worker process per phase. Cancel saves a
usable adapter, a second job waits its turn, a killed worker leaves the app's queue working and the run resumable,
and a dead process is recognised by pid *and* start time."""

import os
import signal
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from conftest import wait_until
from trainers import jobs, runs
from trainers.data import DatasetError
from trainers.liveness import process_identity
from trainers.submit import submit_resume, submit_training
from trainers.training import create_training_run, execute


def run_folders(home: Path) -> list[Path]:
    return [p for p in (home / "runs").glob("*") if p.is_dir()] if (home / "runs").exists() else []


def long_lora(tiny_config, dataset, **overrides):
    return tiny_config("stage3_lora.yaml", **{"dataset": str(dataset), "max_steps": 500, "learning_rate": 1e-2,
                                             **overrides})


def test_cancel_stops_a_worker_at_the_next_step_and_keeps_a_loadable_adapter(job_queue, tiny_config,
                                                                              learnable_dataset, tiny_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    run_id, job = submit_training(long_lora(tiny_config, learnable_dataset), queue=job_queue)
    assert job["status"] == "queued" and job["run_ids"] == [run_id]
    wait_until(lambda: len(runs.read_metrics(run_id)) >= 3, 120, "three logged steps")
    record = jobs.read_job(job["id"])
    assert record["status"] == "running" and record["progress"]["unit"] == "step"
    worker = record["worker"]["pid"]
    assert worker != os.getpid() and runs.read_run(run_id)["pid"] == worker  # the torch work is not in this process
    assert job_queue.cancel(job["id"]) == "cancelling"
    record = job_queue.wait(job["id"], 120)

    assert record["status"] == "cancelled" and "cancelled" in record["error"]
    run = runs.read_run(run_id)
    assert run["status"] == "cancelled" and run["error"] == "" and run["ended_at"]
    steps = [m["step"] for m in runs.read_metrics(run_id)]
    assert steps == list(range(1, len(steps) + 1)) and 3 <= steps[-1] < 500
    saved = load_file(Path(run["artifact_dir"]) / "adapter_model.safetensors")
    assert all(torch.count_nonzero(v) > 0 for k, v in saved.items() if "lora_B" in k)  # the trained state, saved
    base = AutoModelForCausalLM.from_pretrained(tiny_path, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, run["artifact_dir"]).eval()
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        with model.disable_adapter():
            bare = model(ids).logits
        assert not torch.allclose(model(ids).logits, bare)


def test_a_second_job_waits_in_the_queue_and_runs_after_the_first(job_queue, tiny_config, learnable_dataset):
    first_run, first = submit_training(long_lora(tiny_config, learnable_dataset, max_steps=6), queue=job_queue)
    second_run, second = submit_training(tiny_config("stage1_sft.yaml", dataset=str(learnable_dataset), max_steps=2),
                                         queue=job_queue)
    wait_until(lambda: jobs.read_job(first["id"])["status"] == "running", 60, "the first job to start")
    assert jobs.read_job(second["id"])["status"] == "queued" and runs.read_run(second_run)["status"] == "queued"
    assert job_queue.waiting() == [second["id"]]
    assert jobs.queue_position(jobs.read_job(second["id"]), job_queue.waiting()) == 1
    done_first, done_second = job_queue.wait(first["id"], 300), job_queue.wait(second["id"], 300)
    assert done_first["status"] == done_second["status"] == "completed"
    assert runs.read_run(first_run)["ended_at"] <= runs.read_run(second_run)["started_at"]  # never side by side
    assert done_second["result"]["run_id"] == second_run


def test_a_queued_job_cancelled_before_it_starts_never_runs(job_queue, tiny_config, learnable_dataset):
    _, first = submit_training(long_lora(tiny_config, learnable_dataset), queue=job_queue)
    second_run, second = submit_training(long_lora(tiny_config, learnable_dataset), queue=job_queue)
    assert job_queue.cancel(second["id"]) == "cancelled"
    job_queue.cancel(first["id"])
    job_queue.wait(first["id"], 120)
    assert jobs.read_job(second["id"])["status"] == "cancelled" and jobs.read_job(second["id"])["started_at"] is None
    assert runs.read_run(second_run)["status"] == "cancelled" and runs.read_metrics(second_run) == []


def test_bad_rows_are_refused_before_a_run_or_job_exists(job_queue, tiny_config, write_jsonl, playground_home):
    path = write_jsonl([{"prompt": "fine", "output": "ok"}, {"prompt": "", "output": "x"}])
    with pytest.raises(DatasetError, match="line 2: prompt: empty text"):
        submit_training(tiny_config("stage1_sft.yaml", dataset=str(path), max_steps=2), queue=job_queue)
    assert run_folders(playground_home) == [] and jobs.list_jobs() == []


def test_a_killed_worker_leaves_the_queue_serving_and_the_run_resumable(job_queue, tiny_config, learnable_dataset):
    config = long_lora(tiny_config, learnable_dataset, max_steps=40, save_steps=2)
    run_id, job = submit_training(config, queue=job_queue)
    wait_until(lambda: runs.latest_checkpoint(run_id), 180, "a checkpoint")
    os.kill(jobs.read_job(job["id"])["worker"]["pid"], signal.SIGKILL)
    record = job_queue.wait(job["id"], 60)
    assert record["status"] == "failed" and "SIGKILL" in record["error"]
    run = runs.read_run(run_id)
    assert run["status"] == "interrupted" and "SIGKILL" in run["error"]  # never left `running`
    assert job_queue.active() is None

    resumed = submit_resume(run_id, queue=job_queue)  # the same queue takes new work
    assert job_queue.wait(resumed["id"], 300)["status"] == "completed"
    run = runs.read_run(run_id)
    assert run["status"] == "completed" and Path(run["artifact_dir"], "adapter_model.safetensors").is_file()
    assert [m["step"] for m in runs.read_metrics(run_id)] == list(range(1, 41))


def test_a_worker_that_ignores_cancel_is_killed_after_the_grace_period(job_queue, tiny_config, learnable_dataset,
                                                                      monkeypatch):
    from trainers import job_queue as queue_module

    monkeypatch.setattr(queue_module, "CANCEL_GRACE_S", 1.0)
    # one optimizer step of 100,000 micro-batches: the stop flag is only read between steps
    config = long_lora(tiny_config, learnable_dataset, gradient_accumulation_steps=100_000)
    run_id, job = submit_training(config, queue=job_queue)
    wait_until(lambda: runs.read_run(run_id)["status"] == "running", 60, "the run to start")
    started = time.time()
    job_queue.cancel(job["id"])
    record = job_queue.wait(job["id"], 60)
    assert time.time() - started < 30
    assert record["status"] == "cancelled" and "killed" in record["error"]
    assert runs.read_run(run_id)["status"] == "interrupted"


def test_an_exception_inside_the_worker_fails_the_run_and_the_job(job_queue, tiny_config, learnable_dataset):
    # preflight cannot see this one (an unknown target module it now refuses up front): only the worker, placing
    # the model on a device this machine does not have, finds out
    import torch

    device = "mps" if torch.cuda.is_available() else "cuda"
    config = tiny_config("stage3_lora.yaml", dataset=str(learnable_dataset), max_steps=3, device=device)
    run_id, job = submit_training(config, queue=job_queue)
    record = job_queue.wait(job["id"], 120)
    assert record["status"] == "failed" and run_id in record["error"]
    assert_failed_without_artifact(run_id)
    assert runs.read_metrics(run_id) == []
    assert "Traceback" in jobs.log_tail(job["id"], 200)  # the worker's output is kept, not lost in a pipe


def assert_failed_without_artifact(run_id: str, *error_parts: str) -> None:
    record = runs.read_run(run_id)
    assert record["status"] == "failed" and record["ended_at"]
    for part in error_parts:
        assert part in record["error"], record["error"]
    assert record["artifact_dir"] is None and record["final_loss"] is None
    run_dir = runs.run_path(run_id)
    assert not (run_dir / "adapter").exists() and not (run_dir / "model").exists()
    assert not any(run_dir.glob(".*.tmp"))


def test_dataset_deleted_after_preflight_fails_the_run(tiny_config, learnable_dataset):
    config = tiny_config("stage1_sft.yaml", dataset=str(learnable_dataset), max_steps=3)
    run_id = create_training_run(config)  # the file is fine when the run is accepted ...
    learnable_dataset.unlink()  # ... and gone when the worker gets to it
    assert execute(config, run_id)["status"] == "failed"
    assert_failed_without_artifact(run_id, "FileNotFoundError", str(learnable_dataset))


def test_a_reused_pid_does_not_keep_a_run_or_job_alive(tiny_config, learnable_dataset):
    run_id = create_training_run(tiny_config("stage1_sft.yaml", dataset=str(learnable_dataset)))
    me = process_identity()
    # this live process's pid with another start time: what a pid reused after a crash looks like
    runs.update_run(run_id, status="running", pid=me["pid"], pid_started=me["pid_started"] - 3600)
    stale = jobs.create_job("train", [jobs.phase("train", "train", run_id=run_id)], run_ids=[run_id])
    jobs.update_job(stale["id"], status="running", supervisor={**me, "pid_started": me["pid_started"] - 3600})
    live = jobs.create_job("eval", [jobs.phase("evaluate", "eval", models=["base"])])  # queued by this process

    assert jobs.mark_dead_jobs() == [stale["id"]]
    assert jobs.read_job(stale["id"])["status"] == "interrupted" and jobs.read_job(live["id"])["status"] == "queued"
    assert runs.read_run(run_id)["status"] == "interrupted"
    jobs.update_job(live["id"], status="cancelled")


def test_a_run_can_be_queued_once_and_resumed_as_soon_as_its_job_has_ended(job_queue, tiny_config,
                                                                           learnable_dataset):
    from trainers.job_queue import JobBusy

    run_id, job = submit_training(long_lora(tiny_config, learnable_dataset), queue=job_queue)
    wait_until(lambda: runs.read_metrics(run_id), 120, "a logged step")
    with pytest.raises(ValueError, match=f"{run_id} is running"):
        submit_resume(run_id, queue=job_queue)
    job_queue.cancel(job["id"])
    wait_until(lambda: jobs.read_job(job["id"])["phases"][0]["status"] == "cancelled", 120, "the phase to end")
    resumed = submit_resume(run_id, queue=job_queue)  # accepted even if the old worker is still exiting
    with pytest.raises(JobBusy, match=run_id):  # but not twice, whether the first resume waits or runs
        submit_resume(run_id, queue=job_queue)
    wait_until(lambda: job_queue.active() == resumed["id"], 60, "the resume to start")
    with pytest.raises((JobBusy, ValueError), match=run_id):  # held by its job, or running
        submit_resume(run_id, queue=job_queue)
    job_queue.cancel(resumed["id"])
