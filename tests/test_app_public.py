"""Public mode (issue 11), driven through `gradio_client` against `PLAYGROUND_MODE=public python app.py` on the tiny
model with two sessions, A and B (each gradio_client has its own session, so its own workspace):
B cannot see, follow, cancel, resume, delete or overwrite A's runs, jobs and datasets; a shared example run is
visible to both and read-only; a server path in any name field is refused with words that do not depend on whether
the path exists, and no message shows an absolute path; every cap refuses with its one sentence; bad form values
are refused before any job is queued; a bystander's short chat stays fast while another session sends the largest
prompt the caps allow."""

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import REPO, cli_env, learnable_rows, running_app, train_form_args, wait_for_job, wait_until
from evalsuite.suite import load_suite
from playground.jobs_panel import JOB_HEADERS

pytestmark = pytest.mark.app

TINY_FORM = {"max_length": 128, "per_device_train_batch_size": 2, "save_steps": 0}
# Caps the test sets to see them refuse on the tiny model; the rest are the public defaults.
ENV = {"PLAYGROUND_MODE": "public", "PLAYGROUND_MAX_ROWS": "300", "PLAYGROUND_MAX_TRAIN_MB": "2500",
       "PLAYGROUND_MAX_UPLOAD_MB": "1"}


@pytest.fixture(scope="module")
def app(model_cache, tmp_path_factory):
    home = tmp_path_factory.mktemp("public-home")
    with running_app(home, str(model_cache), **ENV) as (url, home):
        yield url, home


def client(url):
    from gradio_client import Client

    return Client(url, verbose=False)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("public-files")
    paths = {"learnable": folder / "learnable.jsonl", "two": folder / "two.jsonl", "bom": folder / "bom.jsonl",
             "nested": folder / "nested.jsonl", "big": folder / "big.jsonl"}
    paths["learnable"].write_text("".join(json.dumps(r) + "\n" for r in learnable_rows()))
    paths["two"].write_text('{"prompt": "Say hi.", "output": "hi"}\n{"prompt": "Say bye.", "output": "bye"}\n')
    paths["bom"].write_bytes(b"\xef\xbb\xbf" + paths["two"].read_bytes())  # as a Windows editor saves UTF-8
    paths["nested"].write_text('{"prompt": ' + "[" * 5000 + "]" * 5000 + ', "output": "x"}\n')
    paths["big"].write_text(json.dumps({"prompt": "x" * 2_100_000, "output": "y"}) + "\n")  # over the 1 MB cap
    return paths


def upload(c, path: Path) -> str:
    from gradio_client import handle_file

    return c.predict(handle_file(str(path)), api_name="/upload_dataset")[1]


def save(c, name: str, fmt: str = "stage1") -> str:
    return c.predict(fmt, name, 128, api_name="/save_dataset")


def form(preset: str = "stage1_sft", dataset: str = "mine", base: str = "tiny", **values) -> list:
    return train_form_args(preset, base, dataset, **{**TINY_FORM, **values})


def start(c, *args) -> tuple[str, str]:
    """(message, job id or '') of start_training."""
    message, job_id = c.predict(*args, api_name="/start_training")
    return message, job_id if isinstance(job_id, str) else ""  # a refusal leaves the job box as it was


def read_job(home: Path, job_id: str) -> dict:
    return json.loads((home / "jobs" / job_id / "job.json").read_text())


def table_ids(table: dict) -> list[str]:
    """The jobs table's ids (its first column)."""
    return [row[0] for row in table["data"]]


def run_ids(table: dict) -> list[str]:
    """The runs table's ids (its last column: the first one is the run's label)."""
    return [row[-1] for row in table["data"]]


def turn(role: str, text: str) -> dict:
    """A chat message as Gradio 6 sends it: content as a list of blocks."""
    return {"role": role, "content": [{"type": "text", "text": text}]}


def chat(c, message: str, history=None, base: str = "tiny", target: str = "base", max_new: int = 8,
         system: str = ""):
    """(history, status) of the chat API."""
    history, _, status = c.predict(message, history or [], base, target, system, 0, 0.95, max_new, api_name="/chat")
    return history, status


def job_dirs(home: Path) -> set[str]:
    return {p.name for p in (home / "jobs").iterdir()} if (home / "jobs").exists() else set()


def no_server_path(text: str, home: Path) -> bool:
    return not any(root in text for root in (str(REPO), str(home), "/tmp/", "/root", "/home/", "/work"))


def test_the_header_says_public_mode(app):
    url, _ = app
    assert "Public mode" in json.dumps(client(url).config)


def test_b_cannot_see_follow_cancel_resume_delete_or_overwrite_what_a_owns(app, files):
    url, home = app
    a, b = client(url), client(url)
    assert upload(a, files["learnable"]).startswith("Loaded 64 row(s)")
    assert "Saved 64 stage1 rows as 'mine'" in save(a, "mine")

    message, job_1 = start(a, *form(max_steps=200))
    assert job_1, message
    [run_1] = read_job(home, job_1)["run_ids"]
    assert read_job(home, job_1)["owner"] == json.loads((home / "runs" / run_1 / "run.json").read_text())["owner"]
    _, job_2 = start(a, *form(max_steps=3))
    message, job_3 = start(a, *form(max_steps=3))  # a third job of one workspace waits for none: refused
    assert not job_3 and ("queued or running jobs of this workspace: 3 with this one is over the limit of 2 jobs"
                          in message)
    message, job_b = start(b, *form(dataset="stage2_instruction", preset="stage3_lora", max_steps=3))
    assert not job_b and "rows: 480 is over the limit of 300 rows" in message  # B has no 'mine'
    assert upload(b, files["two"]).startswith("Loaded 2 row(s)")
    assert "Saved 2 stage1 rows as 'mine'" in save(b, "mine")  # B's own 'mine', not A's
    _, job_b = start(b, *form(max_steps=3))
    assert job_b

    b_jobs = b.predict(api_name="/list_jobs")
    assert table_ids(b_jobs) == [job_b]  # A's jobs are not listed ...
    assert b_jobs["data"][0][JOB_HEADERS.index("queue")] == "2 ahead of you"  # ... only counted
    assert set(table_ids(a.predict(api_name="/list_jobs"))) == {job_1, job_2}
    b_runs, a_runs = (run_ids(c.predict([], api_name="/list_runs")[0]) for c in (b, a))
    assert run_1 in a_runs and run_1 not in b_runs

    for api, refusal in (("/cancel_job", f"Not cancelled: job: '{job_1}' is not one of your jobs"),
                         ("/resume_job", f"Not resumed: job: '{job_1}' is not one of your jobs")):
        assert refusal in b.predict(job_1, api_name=api)
    # cancel_training acts on the session's own watched run (server-side state): a client with none of its own
    # finds nothing to cancel, though A's job is running
    assert "No training of yours is running or queued right now" in client(url).predict(api_name="/cancel_training")
    assert read_job(home, job_1)["status"] == "running" and not (home / "jobs" / job_1 / "cancel").exists()

    assert "Cancelled" in b.predict(api_name="/cancel_training")  # B's own queued job
    assert read_job(home, job_b)["status"] == "cancelled"
    assert "Cancelled" in a.predict(api_name="/cancel_training")  # A's latest: job 2, still queued
    assert read_job(home, job_2)["status"] == "cancelled"
    assert "Cancelling" in a.predict(job_1, api_name="/cancel_job")
    assert wait_for_job(home, job_1, 180)["status"] == "cancelled"

    for api, refusal in (("/resume_run", "Not resumed"), ("/delete_run", "Not deleted"), ("/export_run",
                                                                                          "Not exported")):
        assert f"{refusal}: run: '{run_1}' is not one of your runs" in b.predict(run_1, api_name=api)
    assert (home / "runs" / run_1 / "run.json").is_file()
    _, status = chat(b, "Hi", target=run_1)
    assert f"model: '{run_1}' is not one of your runs" in status
    _, status = chat(a, "Hi", target=run_1)
    assert status.startswith("Answered by **Stage 1 · full")  # A's own run, named by its label
    message, _ = start(b, *form(preset="stage3_lora", max_steps=2)[:3], run_1, *form(preset="stage3_lora")[4:])
    assert f"init_from: '{run_1}' is not one of your runs" in message

    assert load(a, "mine").startswith("Loaded 64 row(s)")  # B's save under the same name left A's alone
    assert load(b, "mine").startswith("Loaded 2 row(s)")
    assert "Deleted" in a.predict(run_1, api_name="/delete_run")


def load(c, name: str) -> str:
    return c.predict(name, api_name="/load_dataset")[1]


def test_a_shared_example_run_is_visible_to_everyone_and_changed_by_no_one(app):
    url, home = app
    result = subprocess.run([sys.executable, "-m", "trainers", "train", "assets/configs/stage3_lora.yaml", "--example",
                             "--json", "--set", "base_model=tiny", "--set", "max_steps=2", "--set", "max_length=128",
                             "--set", "per_device_train_batch_size=2", "--set", "save_steps=0"], cwd=REPO,
                            env=cli_env(PLAYGROUND_HOME=str(home), PLAYGROUND_MODE="public"), capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    run_id = json.loads(result.stdout.splitlines()[0])["run_id"]
    b = client(url)
    table = b.predict([], api_name="/list_runs")[0]
    row = next(r for r in table["data"] if r[-1] == run_id)
    assert row[4] == "completed (shared example)"
    assert "is a shared example; it is read-only" in b.predict(run_id, api_name="/delete_run")
    _, status = chat(b, "Hi", target=run_id)
    assert status.startswith("Answered by **Stage 3 · LoRA")  # the run's label


PATHS = ["/etc/passwd", "/etc/no-such-file", str(REPO / "assets/datasets/stage1_sft.jsonl"),
         "../assets/datasets/stage1_sft.jsonl", "assets/configs", "trainers/cli.py", "~/.bashrc"]


def test_a_server_path_in_any_name_field_is_refused_the_same_whether_it_exists_or_not(app):
    url, home = app
    b = client(url)
    jobs_before = job_dirs(home)
    seen = {}
    for path in PATHS + [str(home / "datasets")]:
        messages = {
            "data load": load(b, path),
            "train dataset": start(b, *form(dataset=path, max_steps=2))[0],
            "train base_model": start(b, *form(dataset="preference", base=path, max_steps=2))[0],
            "chat base": chat(b, "Hi", base=path)[1],
            "chat target": chat(b, "Hi", target=path)[1],
            "compare": b.predict("Hi", [path], 8, api_name="/compare")[2],
            "evaluate": b.predict([path], 2, False, "tiny", api_name="/run_eval")[0],
            "init_from": start(b, *form(preset="stage3_lora")[:3], path, *form(preset="stage3_lora")[4:])[0],
        }
        for field, message in messages.items():
            assert "Not started" in message or "Could not load" in message or "not" in message, (field, message)
            assert no_server_path(message, home), (field, message)
            assert "Loaded" not in message and "Answered" not in message and "queued" not in message, (field, message)
        seen[path] = {f: m.replace(path, "P").replace("<server path>", "P") for f, m in messages.items()}
    assert job_dirs(home) == jobs_before
    # the same words for a file that exists and one that does not: a refusal reveals nothing about the disk
    assert seen["/etc/passwd"] == seen["/etc/no-such-file"]
    assert seen["trainers/cli.py"]["data load"] == load(b, "nobody/no-such-dataset").replace(
        "nobody/no-such-dataset", "P")


def test_every_cap_refuses_with_its_sentence(app, files):
    url, home = app
    a = client(url)
    upload(a, files["learnable"])
    save(a, "mine")
    refusals = {
        "max_steps: 1,000,000,000 is over the limit of 200 steps": form(max_steps=10**9),
        "tokens per optimizer step: 1,000,000 x 1 x 128 (batch x accumulation x max_length) = 128,000,000 is over "
        "the limit of 4,096 tokens": form(per_device_train_batch_size=10**6, max_steps=2),
        "tokens per optimizer step: 2 x 1,000,000 x 128": form(gradient_accumulation_steps=10**6, max_steps=2),
        "max_length: 1,000 is over the limit of 512 tokens": form(max_length=1000, max_steps=2),
        "max_length: must be <= 2,048, the model's context (got 1,000,000)": form(max_length=10**6, max_steps=2),
        "rows: 379 is over the limit of 300 rows": form(dataset="stage1_sft", max_steps=2),
        "estimated peak memory: ~3,": form(per_device_train_batch_size=8, max_length=512, max_steps=2),
    }
    for sentence, args in refusals.items():
        started = time.perf_counter()
        message, job_id = start(a, *args)
        assert sentence in message and not job_id, (sentence, message)
        assert time.perf_counter() - started < 10  # refused up front, not a failed run later
    assert "is over the limit of 2,500 MB" in start(a, *form(per_device_train_batch_size=8, max_length=512))[0]
    assert "rows: 379 is over the limit of 300 rows" in load(a, "stage1_sft")
    with pytest.raises(Exception, match="exceeds the maximum file size of 1048576 bytes"):
        upload(a, files["big"])  # gradio_client reads the cap from the app and refuses before sending
    with open(files["big"], "rb") as f:  # the server refuses it too, for a client that sends it anyway
        response = httpx.post(f"{url}gradio_api/upload", files={"files": f}, timeout=60)
    assert response.status_code == 413 and "maximum allowed size of 1048576 bytes" in response.text
    assert "max_new_tokens: 500 is over the limit of 256 tokens" in chat(a, "Hi", max_new=500)[1]
    history = [turn("user", "word " * 4600), turn("assistant", "ok")] * 2
    started = time.perf_counter()  # the 46,000-character history: refused at once, the model not touched
    assert ("the chat prompt (history, system prompt and message): 46,006 characters is over the limit of 1,024 "
            "tokens") in chat(a, "Hi", history)[1]
    assert time.perf_counter() - started < 5
    history = [turn("user", "hello there " * 700)]
    tokens = chat(a, "Hi", history)[1]
    assert "the chat prompt (history, system prompt and message): 1,4" in tokens and "tokens" in tokens
    whole_suite = a.predict(["base"], 0, False, "tiny", api_name="/run_eval")[0]
    assert f"evaluation queries: {len(load_suite())} is over the limit of 36 queries" in whole_suite
    assert "Active: **base model**" in a.predict("tiny", "base", api_name="/switch_model")
    b = client(url)
    for made_up in ("nobody/made-up-one", "made-up-two"):  # refused before anything resident is touched
        assert "switched" not in b.predict(made_up, "base", api_name="/switch_model")
    again = a.predict("tiny", "base", api_name="/switch_model")
    assert "Active: **base model**" in again and "loading the base model the first time" not in again


BAD_VALUES = {  # field -> (value sent, the one-line refusal; the CLI says the same)
    "warmup_steps": (-1, "warmup_steps: must be >= 0 (got -1)"),
    "seed": (-1, "seed: must be in [0, 4294967295] (got -1)"),
    "logging_steps": (0, "logging_steps: must be >= 1 (got 0)"),
    "save_steps": (-1, "save_steps: must be >= 0"),
    "lr_scheduler_type": ("bogus", "lr_scheduler_type: 'bogus' is not one of 'cosine'"),
    "learning_rate": ("abc", "learning_rate: expected a number (got 'abc')"),
    "max_steps": (2.5, "max_steps: expected a whole number (got 2.5)"),
    "run_name": ("a\nb", "run_name: 'a\\nb' is not a run name"),
}


def test_bad_form_values_are_refused_before_a_job_is_queued(app, files):
    from playground.train_tab import EDITABLE

    url, home = app
    c = client(url)
    jobs_before = job_dirs(home)
    for field, (value, refusal) in {**BAD_VALUES, "logging_steps ": (-1, "logging_steps: must be >= 1 (got -1)"),
                                    "run_name ": ("x\u202egnp.exe", "is not a run name")}.items():
        args = form("stage1_sft", "stage1_sft", max_steps=2)
        args[4 + EDITABLE.index(field.strip())] = value
        message, job_id = start(c, *args)
        assert refusal in message and not job_id, (field, message)
    args = form("stage3_lora", "stage2_instruction", max_steps=2)
    args[4 + EDITABLE.index("target_modules")] = "q_proj, nope"
    message, _ = start(c, *args)
    assert "target_modules: nope not found in the model (it has down_proj, gate_proj" in message
    assert job_dirs(home) == jobs_before

    assert "nested more than 20 levels deep" in upload(c, files["nested"])  # not "maximum recursion depth"
    assert upload(c, files["bom"]).startswith("Loaded 2 row(s)")


def test_a_bystanders_short_chat_stays_fast_while_another_session_sends_the_largest_allowed_prompt(app,
                                                                                                tiny_tokenizer):
    from trainers.generate import chat_prompt

    url, _ = app
    a, b = client(url), client(url)
    chat(b, "Hi")  # the base is loaded once for everyone
    words = 10
    history = []
    while True:  # the longest history whose rendered prompt fits the 1,024-token cap
        candidate = [turn("user", "tell me " * words), turn("assistant", "ok")]
        if len(tiny_tokenizer(chat_prompt(tiny_tokenizer, candidate + [turn("user", "Go on.")]),
                              add_special_tokens=False)["input_ids"]) > 1024:
            break
        history, words = candidate, words + 10
    assert "is over the limit" in chat(a, "Go on.", [turn("user", "tell me " * (words + 40))])[1]
    big = a.submit("Go on.", history, "tiny", "base", "", 0, 0.95, 256, api_name="/chat")
    wait_until(lambda: big.status().code.name in ("PROCESSING", "ITERATING"), 30, "A's chat to start")
    started = time.perf_counter()
    _, status = chat(b, "Hi", max_new=8)
    bystander = time.perf_counter() - started
    _, _, big_status = big.result()
    assert "Answered by" in status and "Answered by" in big_status
    print(f"bystander's 8-token chat: {bystander:.1f} s while the largest allowed prompt was answered")
    # the shared model is taken 16 tokens at a time in arrival order: the bystander waits for a slice of A's answer
    # (and its 1,024-token prefill), not for all 256 tokens of it; measured 2 s here (an unbounded history: 122 s)
    assert bystander < 10


E_CHECK = {"type": "constraints", "constraints": [{"kind": "letter_frequency", "letter": "e", "n": 1}]}


def build_pairs(c, prompts: str, name: str, samples=6, temperature=1.0, max_new=3, target: str = "base"):
    """(message, job id or '') of the Data tab's build_pairs."""
    message, job_id = c.predict(target, prompts, samples, temperature, max_new, name, api_name="/build_pairs")
    return message, job_id if isinstance(job_id, str) else ""


def test_build_pairs_returns_a_job_at_once_and_only_its_workspace_sees_the_pairs(app, tmp_path):
    url, home = app
    a, b = client(url), client(url)
    prompts = tmp_path / "e_prompts.jsonl"  # the tiny model's 3-token answers hold an 'e' about half the time
    prompts.write_text("".join(json.dumps({"prompt": f"Write about {w}.", "check": E_CHECK}) + "\n"
                               for w in ("apple", "river", "stone", "cloud", "tiger", "piano")))
    assert upload(a, prompts).startswith("Loaded 6 row(s)")
    assert "Saved 6 grpo rows as 'e_prompts'" in save(a, "e_prompts", "grpo")
    jobs_before = job_dirs(home)
    for args, refusal in ((("grpo_prompts", "p", "abc"), "samples per prompt: expected a whole number (got 'abc')"),
                          (("grpo_prompts", "p", 40), "samples per prompt: must be 2 to 16 (got 40)"),
                          (("grpo_prompts", ""), "name: give the dataset a name"),
                          (("grpo_prompts", "preference"), "name: 'preference' belongs to a starter dataset"),
                          (("e_prompts", "p"), "prompts: 'e_prompts' is not a starter")):  # B has no e_prompts
        message, job_id = build_pairs(b, *args)
        assert refusal in message and not job_id and no_server_path(message, home), (args, message)
    assert job_dirs(home) == jobs_before

    started = time.perf_counter()
    message, job_id = build_pairs(a, "e_prompts", "a_pairs")
    took = time.perf_counter() - started
    assert job_id and "6 prompts × 6 answers" in message, message
    assert took < 8, f"build_pairs answered after {took:.1f} s"
    print(f"build_pairs returned its job in {took:.1f} s")
    record = wait_for_job(home, job_id, 240)
    assert record["status"] == "completed" and record["owner"] != "local", record["error"]
    assert job_id in table_ids(a.predict(api_name="/list_jobs")) and job_id not in table_ids(
        b.predict(api_name="/list_jobs"))
    pairs = record["result"]["stats"]["pairs"]
    assert load(a, "a_pairs").startswith(f"Loaded {pairs} row(s)") and "format **preference**" in load(a, "a_pairs")
    assert "is not a starter" in load(b, "a_pairs")  # B can neither see the job nor load what it saved


def test_the_default_evaluation_size_drops_to_the_public_cap(monkeypatch):
    # 100 queries decide verdicts locally; a hosted app would refuse them, so its form starts at the cap instead
    from evalsuite.reproduce import DEFAULT_LIMIT
    from playground.evaluate_tab import default_queries

    monkeypatch.setenv("PLAYGROUND_MODE", "local")
    assert default_queries() == DEFAULT_LIMIT == 100
    monkeypatch.setenv("PLAYGROUND_MODE", "public")
    assert default_queries() == 36
    monkeypatch.setenv("PLAYGROUND_MAX_EVAL_QUERIES", "off")
    assert default_queries() == DEFAULT_LIMIT
