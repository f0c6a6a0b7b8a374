"""The app's long work as jobs, driven through `gradio_client` against `python app.py` on the tiny model:
evaluation and reproduce answer with a job id at once and run in the queue, a training started meanwhile waits its
turn, a worker killed with SIGKILL leaves the app serving and the run resumable, and a run's peak memory is its own
worker's (LoRA below full fine-tuning, on the embedded model)."""

import json
import os
import signal
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from conftest import REPO, learnable_rows, running_app, start_training, wait_until

pytestmark = pytest.mark.app


@pytest.fixture(scope="module")
def app(model_cache, tmp_path_factory):
    """(gradio Client, PLAYGROUND_HOME of the app)."""
    from gradio_client import Client

    home = tmp_path_factory.mktemp("app-jobs-home")
    with running_app(home, str(model_cache)) as (url, home):
        yield Client(url, verbose=False), home


def read_job(home: Path, job_id: str) -> dict:
    return json.loads((home / "jobs" / job_id / "job.json").read_text())


def read_run(home: Path, run_id: str) -> dict:
    return json.loads((home / "runs" / run_id / "run.json").read_text())


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("app-data") / "learnable.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in learnable_rows()))
    return str(path)


TINY_FORM = {"max_length": 128, "per_device_train_batch_size": 2, "save_steps": 0}


def test_eval_and_reproduce_return_a_job_at_once_and_a_training_waits_its_turn(app, dataset):
    client, home = app
    started = time.perf_counter()
    message, eval_job = client.predict(["base"], 6, False, "tiny", api_name="/run_eval")
    assert time.perf_counter() - started < 5 and eval_job, message
    started = time.perf_counter()
    message, repro_job = client.predict(2, 6, "tiny", api_name="/reproduce_seed")
    # pricing the seven phases loads the tokenizer and renders the stages' rows on the first call (seconds); the work
    # itself takes minutes
    assert time.perf_counter() - started < 15 and repro_job, message
    _, train_job = start_training(client, "stage3_lora", "tiny", dataset, max_steps=3, **TINY_FORM)
    [run_id] = read_job(home, train_job)["run_ids"]
    assert read_job(home, train_job)["status"] == "queued" and read_run(home, run_id)["status"] == "queued"

    done = wait_until(lambda: (r := read_job(home, eval_job))["status"] in ("completed", "failed") and r, 300,
                    "the evaluation job")
    assert done["status"] == "completed", done["error"]
    assert done["progress"]["unit"] == "answers" and done["progress"]["done"] == done["progress"]["total"] > 0
    assert json.loads(Path(done["result"]["report"]).read_text())["summary"]["base"]

    phases_seen = set()

    def reproduce_ended():
        record = read_job(home, repro_job)
        phases_seen.add(record["progress"].get("phase"))
        assert read_job(home, train_job)["status"] == "queued" or record["status"] != "running"  # never beside it
        return record["status"] in ("completed", "failed", "cancelled") and record

    repro = wait_until(reproduce_ended, 900, "the reproduce job")
    assert repro["status"] == "completed", repro["error"]
    assert {"train stage1", "train qlora", "train dpo", "evaluate"} <= phases_seen  # the phases showed as they ran
    assert [p["status"] for p in repro["phases"]] == ["completed"] * 7 and len(repro["run_ids"]) == 5
    stage2, dpo = (p["result"]["run_id"] for p in repro["phases"] if p["spec"].get("label") in ("stage2", "dpo"))
    assert read_run(home, dpo)["stage"] == "stage4_dpo"  # DPO trained on top of this job's Stage 2 run
    assert yaml.safe_load((home / "runs" / dpo / "config.yaml").read_text())["init_from"] == stage2
    assert Path(repro["result"]["report_path"]).is_file()

    train = wait_until(lambda: (r := read_job(home, train_job))["status"] in ("completed", "failed") and r, 300,
                     "the queued training")
    assert train["status"] == "completed", train["error"]
    assert read_run(home, run_id)["started_at"] >= repro["ended_at"]  # it ran after, not beside


def test_a_worker_killed_with_sigkill_leaves_the_app_serving_and_the_run_resumable(app, dataset):
    client, home = app
    _, job_id = start_training(client, "stage3_lora", "tiny", dataset, max_length=128,
                               per_device_train_batch_size=2, max_steps=400, save_steps=2)
    [run_id] = read_job(home, job_id)["run_ids"]
    wait_until(lambda: list((home / "runs" / run_id / "checkpoints").glob("checkpoint-*/trainer_state.json")), 180,
             "a checkpoint")
    worker = read_job(home, job_id)["worker"]["pid"]
    os.kill(worker, signal.SIGKILL)
    job = wait_until(lambda: (r := read_job(home, job_id))["status"] != "running" and r, 60, "the job to end")
    assert job["status"] == "failed" and "SIGKILL" in job["error"]
    assert read_run(home, run_id)["status"] == "interrupted"
    assert urllib.request.urlopen(client.src, timeout=10).status == 200  # the app still serves

    message = client.predict(run_id, api_name="/resume_run")
    assert "continues from its checkpoint at step" in message
    client.predict(job_id, api_name="/cancel_job")  # a finished job: refused with a sentence, nothing breaks
    resumed = wait_until(lambda: (r := read_run(home, run_id))["status"] == "running" and r, 120, "the resume")
    assert resumed["pid"] != worker
    resume_job = next(j for j in sorted((home / "jobs").iterdir()) if j.name != job_id and run_id in
                      read_job(home, j.name)["run_ids"])
    assert "cancelling" in client.predict(resume_job.name, api_name="/cancel_job").lower()
    wait_until(lambda: read_run(home, run_id)["status"] == "cancelled", 120, "the cancel")
    assert (home / "runs" / run_id / "adapter" / "adapter_model.safetensors").is_file()


@pytest.mark.embedded
def test_lora_peak_memory_is_below_full_fine_tuning_from_the_app(app):
    client, home = app
    data = str(REPO / "assets" / "datasets" / "stage1_sft.jsonl")
    form = {"max_steps": 2, "save_steps": 0, "max_length": 128}
    _, full_job = start_training(client, "stage1_sft", "embedded", data, **form)
    _, lora_job = start_training(client, "stage3_lora", "embedded", data, **form)
    records = {}
    for name, job_id in (("full", full_job), ("lora", lora_job)):
        job = wait_until(lambda j=job_id: (r := read_job(home, j))["status"] in ("completed", "failed") and r, 600,
                       f"the {name} job")
        assert job["status"] == "completed", job["error"]
        records[name] = read_run(home, job["run_ids"][0])
    assert 0 < records["lora"]["peak_memory_mb"] < records["full"]["peak_memory_mb"]
    # each peak is its worker's own, not the app's: the app process never loaded the embedded weights for training
    assert records["full"]["pid"] != records["lora"]["pid"]
