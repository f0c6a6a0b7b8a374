"""Shared fixtures: every test runs offline, with its own empty playground home and a persistent model cache.

- `HF_HUB_OFFLINE=1` for the whole session: no test may reach the Hub.
- Converted models (the embedded 135M checkpoint and the random-init `tiny` model built from its tokenizer) live
  in `$PLAYGROUND_TEST_CACHE`, default `<repo>/.cache/test-models`, so only the first session on a machine pays the
  ~30 s GGUF conversion.
- `$PLAYGROUND_HOME` is a fresh tmp dir per test: runs never leak between tests or into ./outputs.

Engine helpers (`tiny_config`, `train_now`, `run_cli`, `write_jsonl`) drive the real code paths: the CLI as a
subprocess, `create_training_run` + `execute` in-process as a worker calls them, or a test's own `job_queue`.
"""

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
os.environ["HF_HUB_OFFLINE"] = "1"  # before any test module imports huggingface_hub, which reads it once
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Settings that keep a tiny-model run to a few seconds on 2 shared cores.
TINY = {"base_model": "tiny", "max_length": 128, "per_device_train_batch_size": 2, "save_steps": 0}


@pytest.fixture(scope="session", autouse=True)
def model_cache():
    """One persistent cache of converted models for the session (and later sessions)."""
    path = Path(os.environ.get("PLAYGROUND_TEST_CACHE") or REPO / ".cache" / "test-models").resolve()
    path.mkdir(parents=True, exist_ok=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLAYGROUND_CACHE", str(path))
        yield path


@pytest.fixture(autouse=True)
def playground_home(tmp_path, monkeypatch):
    """A fresh, empty `$PLAYGROUND_HOME` for every test."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("PLAYGROUND_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def tiny_path(model_cache) -> Path:
    """The `tiny` model folder, built once (the first build converts the embedded GGUF for its tokenizer)."""
    from trainers.models import resolve_model

    return Path(resolve_model("tiny"))


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_path):
    from trainers.models import load_tokenizer

    return load_tokenizer(str(tiny_path))


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def write_jsonl(tmp_path):
    """write_jsonl(rows, name="data.jsonl") -> path of a JSONL file in the test's tmp dir."""
    return lambda rows, name="data.jsonl": _write_jsonl(tmp_path / name, rows)


# 16 prompts, each with one fixed answer: a mapping a 2-layer model can learn in a few steps.
LEARNABLE = [("apple", "red"), ("river", "blue"), ("stone", "gray"), ("cloud", "white"), ("tiger", "orange"),
             ("piano", "black"), ("lemon", "yellow"), ("ocean", "teal"), ("candle", "gold"), ("forest", "green"),
             ("rocket", "silver"), ("garden", "lime"), ("window", "cyan"), ("pepper", "pink"), ("castle", "brown"),
             ("violet", "purple")]


def learnable_rows(repeat: int = 4) -> list[dict]:
    return [{"prompt": f"Color code of {word}?", "output": color} for _ in range(repeat) for word, color in LEARNABLE]


@pytest.fixture
def learnable_dataset(write_jsonl) -> Path:
    """16 rows of a fixed word -> color mapping, repeated 4 times (duplicates are warnings, not errors)."""
    return write_jsonl(learnable_rows(), "learnable.jsonl")


@pytest.fixture
def tiny_config(tiny_path):
    """tiny_config("stage3_lora.yaml", max_steps=3, ...) -> TrainConfig from a shipped config, set up for `tiny`."""
    from trainers.config import load_config

    def make(config_file: str = "stage1_sft.yaml", **overrides):
        return load_config(REPO / "assets" / "configs" / config_file, {**TINY, **overrides})

    return make


def train_in_process(config, stop_event=None) -> dict:
    """What `python -m trainers train` does, in this process: preflight, a run directory, then the stage."""
    from trainers.training import create_training_run, execute

    return execute(config, create_training_run(config), stop_event)


@pytest.fixture
def train_now():
    """train_now(config) -> the finished run.json record."""
    return train_in_process


def cli_env(**extra) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), **extra}
    env.pop("RANK", None)
    env.pop("WORLD_SIZE", None)
    return env


@pytest.fixture
def run_cli():
    """run_cli("train", CONFIG, "--set", "k=v", timeout=...) -> CompletedProcess of `python -m trainers ...`,
    run from the repo root with this test's environment (home, cache, offline)."""

    def run(*args, timeout: float = 300, **env):
        return subprocess.run([sys.executable, "-m", "trainers", *map(str, args)], cwd=REPO, env=cli_env(**env),
                              capture_output=True, text=True, timeout=timeout)

    return run


@pytest.fixture
def job_queue():
    """A JobQueue of this test's own (workers are real processes), left with nothing running after the test even
    when the test fails half-way."""
    from trainers import jobs
    from trainers.job_queue import JobQueue

    queue = JobQueue()
    yield queue
    for job_id in [queue.active(), *queue.waiting()]:
        if job_id:
            try:
                queue.cancel(job_id)
            except ValueError:
                pass
    deadline = time.time() + 120
    while queue.active() and time.time() < deadline:
        time.sleep(0.1)
    assert all(r["status"] in jobs.FINISHED for r in jobs.list_jobs()), "a job outlived its test"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(home: Path, cache: str, base_model: str = "tiny", **env_extra):
    """`python app.py` on a free port with its own PLAYGROUND_HOME: yields (url, home) once the page answers 200,
    and stops the app (and so its job workers) afterwards. Its output goes to home/app.log."""
    import urllib.request

    port = _free_port()
    env = {**os.environ, "PLAYGROUND_HOME": str(home), "PLAYGROUND_CACHE": cache, "PLAYGROUND_BASE_MODEL": base_model,
           "HF_HUB_OFFLINE": "1", "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False", "TOKENIZERS_PARALLELISM": "false", **env_extra}
    log = open(home / "app.log", "w")
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            try:
                if urllib.request.urlopen(url, timeout=2).status == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, (home / "app.log").read_text()[-3000:]
            assert time.perf_counter() - started < 60, "the app did not answer within 60 s"
            time.sleep(0.25)
        print(f"app answered HTTP 200 after {time.perf_counter() - started:.1f} s")
        yield url, home
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def train_form_args(preset: str, base_model: str, dataset: str | None = None, **values) -> list:
    """The Train form's inputs in order (what `start_training` takes), from the preset with `values` on top;
    `dataset` None keeps the preset's own."""
    from playground.train_tab import EDITABLE, field_value
    from trainers.config import load_config

    config = load_config(REPO / "assets" / "configs" / f"{preset}.yaml", values)
    return [preset, base_model, dataset or config.dataset, ""] + [field_value(n, getattr(config, n)) for n in EDITABLE]


def start_training(client, preset: str, base_model: str, dataset: str | None = None, **values) -> tuple[str, str]:
    """(message, job id) of the app's start_training, called through gradio_client."""
    message, job_id = client.predict(*train_form_args(preset, base_model, dataset, **values),
                                     api_name="/start_training")
    assert job_id, message
    return message, job_id


def wait_for_job(home: Path, job_id: str, timeout_s: float = 600) -> dict:
    """The job record once it has ended (read from the app's PLAYGROUND_HOME)."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        record = json.loads((home / "jobs" / job_id / "job.json").read_text())
        if record["status"] in ("completed", "failed", "cancelled", "interrupted"):
            return record
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not end within {timeout_s} s")


def wait_until(predicate, timeout: float, what: str, poll_s: float = 0.1):
    """The predicate's first truthy value, polled until `timeout` seconds have passed."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
