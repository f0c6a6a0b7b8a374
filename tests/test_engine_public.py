"""Public mode's engine side (issue 11), without the app: the caps and their sentences, form values checked with the
CLI's one-line messages, names instead of paths (and refusals that do not depend on the disk), owners, the
browser workspace token, resident bases that a made-up name cannot evict, rows with a byte-order mark or nested too
deep, `validate` checking what `train` checks, and streamed generation that stops when nobody reads it and takes
the shared model in slices, so a short answer next to a long one is not kept waiting."""

import json
import threading
import time

import pytest

from conftest import REPO, TINY

@pytest.fixture
def public(monkeypatch):
    monkeypatch.setenv("PLAYGROUND_MODE", "public")
    monkeypatch.delenv("SPACE_ID", raising=False)


def test_the_mode_is_public_on_a_space_or_when_asked_and_local_wins(monkeypatch):
    from trainers.mode import public_mode

    for mode, space, expected in (("", "", False), ("public", "", True), ("", "user/space", True),
                                  ("local", "user/space", False), ("PUBLIC", "", True)):
        monkeypatch.setenv("PLAYGROUND_MODE", mode)
        monkeypatch.setenv("SPACE_ID", space)
        assert public_mode() is expected, (mode, space)


def test_caps_have_public_defaults_are_off_locally_and_env_overrides_both(monkeypatch):
    from trainers import caps

    monkeypatch.delenv("PLAYGROUND_MODE", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert caps.limit("steps") is None and caps.refusal("steps", 10**9) == ""
    monkeypatch.setenv("PLAYGROUND_MAX_STEPS", "50")
    assert caps.refusal("steps", 51) == "max_steps: 51 is over the limit of 50 steps"
    monkeypatch.setenv("PLAYGROUND_MODE", "public")
    monkeypatch.delenv("PLAYGROUND_MAX_STEPS")
    assert caps.limit("steps") == 200 and caps.limit("prompt_tokens") == 1024
    assert 0 < caps.limit("train_mb") < caps.available_memory_mb()  # "auto": a share of what is free now
    assert caps.refusal("train_mb", 10**9).endswith("MB (80% of the memory available now)")
    monkeypatch.setenv("PLAYGROUND_MAX_STEPS", "off")
    assert caps.limit("steps") is None
    monkeypatch.setenv("PLAYGROUND_MAX_STEPS", "lots")
    with pytest.raises(ValueError, match="PLAYGROUND_MAX_STEPS: expected a number or 'off'"):
        caps.limit("steps")


def test_training_caps_name_the_limit_and_the_value(public, tiny_config):
    from trainers import caps

    config = tiny_config(per_device_train_batch_size=8, gradient_accumulation_steps=10**6, max_steps=10**9)
    assert caps.training_problems(config) == [
        "max_steps: 1,000,000,000 is over the limit of 200 steps",
        "tokens per optimizer step: 8 x 1,000,000 x 128 (batch x accumulation x max_length) = 1,024,000,000 is over "
        "the limit of 4,096 tokens"]
    assert caps.training_problems(tiny_config(max_steps=0, num_train_epochs=1)) == [
        "max_steps: must be set (1 to 200) on this server; epochs are not accepted"]


@pytest.mark.parametrize("key, value, message", [
    ("warmup_steps", "-1", "warmup_steps: must be >= 0 (got -1)"),
    ("seed", "-1", "seed: must be in [0, 4294967295] (got -1)"),
    ("logging_steps", "0", "logging_steps: must be >= 1 (got 0)"),
    ("lr_scheduler_type", "bogus", "lr_scheduler_type: 'bogus' is not one of 'cosine'"),
    ("learning_rate", "abc", "learning_rate: expected a number (got 'abc')"),
    # the override character is shown escaped, so the message cannot be reversed by it
    ("run_name", "x\u202egnp.exe", "run_name: 'x\\u202egnp.exe' is not a run name"),
])
def test_the_cli_and_the_form_refuse_a_bad_value_with_the_same_line(key, value, message, run_cli, tiny_path):
    from playground.train_tab import EDITABLE, collect, field_value, preset_path
    from trainers.config import load_config

    result = run_cli("train", "assets/configs/stage1_sft.yaml", "--set", "base_model=tiny", "--set", f"{key}={value}",
                     timeout=120)
    assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr
    values = {n: field_value(n, getattr(load_config(preset_path("stage1_sft")), n)) for n in EDITABLE}
    values[key] = value
    config, problems = collect("stage1_sft", "tiny", "assets/datasets/stage1_sft.jsonl", "",
                               *[values[n] for n in EDITABLE])
    assert config is None and any(message in p for p in problems), problems


@pytest.mark.parametrize("value, message", [
    ("2.5", "max_steps: expected a whole number (got 2.5)"), (2.5, "max_steps: expected a whole number (got 2.5)"),
    (float("inf"), "max_steps: expected a whole number (got inf)"), ([3], "max_steps: expected a whole number"),
    (True, "max_steps: expected a whole number (got True)")])
def test_a_value_of_the_wrong_type_is_one_line_not_a_python_error(value, message):
    from trainers.config import load_config

    with pytest.raises(ValueError) as caught:
        load_config(REPO / "assets/configs/stage1_sft.yaml", {"max_steps": value, "learning_rate": "nan"})
    assert message in str(caught.value) and "learning_rate: expected a finite number (got nan)" in str(caught.value)


def test_unknown_target_modules_and_a_max_length_past_the_context_are_refused_before_a_run(tiny_config):
    from trainers.validate import check_config

    assert check_config(tiny_config("stage3_lora.yaml", target_modules=["q_proj", "qkv"])) == [
        "target_modules: qkv not found in the model (it has down_proj, gate_proj, k_proj, o_proj, q_proj, up_proj, "
        "v_proj, or use all-linear)"]
    assert check_config(tiny_config(max_length=10**6)) == [
        "max_length: must be <= 2,048, the model's context (got 1,000,000)"]
    assert check_config(tiny_config("stage3_lora.yaml", target_modules=["all-linear"])) == []


def test_a_byte_order_mark_is_read_and_deep_nesting_is_one_clear_error(tmp_path):
    from trainers.data import load_rows

    row = b'{"prompt": "Say hi.", "output": "hi"}'
    (tmp_path / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + row + b"\n")
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf[" + row + b"]")
    for name in ("bom.jsonl", "bom.json"):
        [loaded] = load_rows(tmp_path / name)
        assert loaded.data == {"prompt": "Say hi.", "output": "hi"}, name
    (tmp_path / "deep.jsonl").write_text('{"prompt": ' + "[" * 100_000 + "]" * 100_000 + ', "output": "x"}\n')
    (tmp_path / "deep.json").write_text("[" * 30 + "]" * 30)
    for name in ("deep.jsonl", "deep.json"):
        [loaded] = load_rows(tmp_path / name)
        assert loaded.data is None and loaded.error == "nested more than 20 levels deep", name


def test_validate_checks_row_lengths_as_train_does_by_default(run_cli, write_jsonl, tiny_path):
    long_row = {"prompt": "word " * 300, "output": "ok"}  # fine as a row, far past max_length 256 once rendered
    path = write_jsonl([{"prompt": "Say hi.", "output": "hi"}, long_row])
    result = run_cli("validate", path, "--format", "stage1", "--model", "tiny", timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith("line 2: row: ") and "longer than max_length 256" in result.stdout
    assert run_cli("validate", path, "--format", "stage1", "--max-length", "0", timeout=120).returncode == 0


def test_public_names_are_starters_saved_names_or_hub_ids_and_never_read_the_disk(public, playground_home):
    from trainers.models import ModelNotFound, resolve_model
    from trainers.names import NameRefused, check_model_name, dataset_reference, saved_folder, scrub
    from trainers.sft_core import resolve_dataset

    assert dataset_reference("stage1_sft", "w-a") == "assets/datasets/stage1_sft.jsonl"
    assert dataset_reference("assets/datasets/stage1_sft.jsonl", "w-a") == "assets/datasets/stage1_sft.jsonl"
    (saved_folder("w-a") / "mine.jsonl").write_text('{"prompt": "a", "output": "b"}\n')
    assert dataset_reference("mine", "w-a") == "saved:w-a/mine"
    assert resolve_dataset("saved:w-a/mine") == str(playground_home / "datasets" / "w-a" / "mine.jsonl")
    with pytest.raises(NameRefused, match="'mine' is not a starter"):
        dataset_reference("mine", "w-b")  # another workspace's name is no name at all
    for path in ("/etc/passwd", str(REPO / "README.md"), "../x.jsonl", "~/x", "saved:w-a/mine"):
        with pytest.raises(NameRefused):
            dataset_reference(path, "w-b")
    # a Hub-id-shaped name is the Hub's, even where the same relative path exists on the server
    assert dataset_reference("trainers/cli.py", "w-b") == "trainers/cli.py"
    assert resolve_dataset("trainers/cli.py") == "trainers/cli.py" and resolve_dataset("w-a/mine") == "w-a/mine"
    with pytest.raises(ModelNotFound, match="'assets/configs' is not in the local Hugging Face cache"):
        resolve_model("assets/configs")
    with pytest.raises(NameRefused, match="is not a registered model"):
        check_model_name(str(REPO))
    assert scrub(f"could not read {playground_home}/x: no") == "could not read <server path>: no"


def test_hub_rows_miss_in_the_same_words_whether_or_not_a_local_path_exists(public):
    from trainers.data import load_rows

    messages = []
    for name in ("assets/configs", "nobody/no-such-dataset"):
        with pytest.raises(ValueError) as caught:
            load_rows(name)
        messages.append(str(caught.value).replace(name, "NAME"))
    assert messages[0] == messages[1] == "NAME: could not load from the Hugging Face Hub"


def test_owners_see_their_own_and_the_examples_and_change_only_their_own(public):
    from trainers.owners import may_change, may_see

    mine, example, legacy = {"owner": "w-a"}, {"owner": "example"}, {}
    assert may_see(mine, "w-a") and may_change(mine, "w-a")
    assert not may_see(mine, "w-b") and not may_change(mine, "w-b")
    assert may_see(example, "w-b") and not may_change(example, "w-b")
    assert not may_see(legacy, None) and not may_see(legacy, "w-a")


def test_a_browser_token_names_its_workspace_only_when_the_server_signed_it(public, playground_home):
    from types import SimpleNamespace

    from playground import workspace

    token = workspace.new_token()
    owner = workspace.workspace_of_token(token)
    assert owner.startswith("w-")
    assert workspace.workspace_of_token(owner + ".0" * 16) is None
    assert workspace.workspace_of_token("w-someone-else." + token.split(".")[1]) is None
    page = SimpleNamespace(session_hash="page-1", username=None)
    assert workspace.claim_workspace(token, page) == token and workspace.owner_of(page) == owner
    forged = workspace.claim_workspace("w-x.forged", SimpleNamespace(session_hash="page-2", username=None))
    assert forged != "w-x.forged" and workspace.owner_of(SimpleNamespace(session_hash="page-2")) != owner
    api_a, api_b = (SimpleNamespace(session_hash=h, username=None) for h in ("client-a", "client-b"))
    assert workspace.owner_of(api_a) != workspace.owner_of(api_b) and "client-a" not in workspace.owner_of(api_a)
    assert workspace.owner_of(SimpleNamespace(session_hash="x", username="ada")) == "u-ada"


def test_made_up_base_names_are_refused_and_never_evict_the_default(public, monkeypatch, tiny_path):
    from playground import resources
    from trainers.models import ModelNotFound

    monkeypatch.setenv("PLAYGROUND_BASE_MODEL", "tiny")
    monkeypatch.setattr(resources, "_hubs", type(resources._hubs)())
    default = resources.get_hub("tiny")
    for name in ("nobody/made-up", "made-up-2", "another/made-up"):
        with pytest.raises((ModelNotFound, ValueError)):
            resources.get_hub(name)
    assert resources.get_hub("tiny") is default and list(resources._hubs) == ["tiny"]
    with pytest.raises(ValueError, match="is not a registered model"):
        resources.get_hub(str(tiny_path))
    assert resources.get_hub("tiny") is default


@pytest.fixture(scope="module")
def hub(tiny_path):
    from trainers.adapters import ModelHub

    hub = ModelHub("tiny", dtype="fp32")
    hub.ensure_base()
    return hub


HI = [{"role": "user", "content": "Hi"}]


def test_generation_stops_when_the_reader_goes_away(hub):
    from trainers.generate import stream_chat

    stream = stream_chat(hub, "base", HI, max_new_tokens=2000)  # a minute of tokens on the tiny model
    next(stream)
    started = time.perf_counter()
    stream.close()
    assert time.perf_counter() - started < 3  # the generation ended at its next step ...
    assert hub.lock.acquire(timeout=1)  # ... and left the model free
    hub.lock.release()
    assert not [t for t in threading.enumerate() if t.name == "chat-generate"]


def test_generation_stops_when_asked_and_on_timeout(hub, monkeypatch):
    from trainers import generate

    stop = threading.Event()
    stream = generate.stream_chat(hub, "base", HI, max_new_tokens=2000, stop_event=stop)
    next(stream)
    stop.set()
    started = time.perf_counter()
    list(stream)
    assert time.perf_counter() - started < 3
    monkeypatch.setattr(generate, "STREAM_TIMEOUT_S", 0.0001)  # nothing can arrive that fast
    with pytest.raises(TimeoutError, match="the generation was stopped"):
        list(generate.stream_chat(hub, "base", HI, max_new_tokens=2000))
    assert not [t for t in threading.enumerate() if t.name == "chat-generate"]


def test_a_short_answer_next_to_a_long_one_waits_for_a_slice_not_the_whole_answer(hub):
    from trainers.generate import SLICE_TOKENS, stream_chat

    long_started, long_pieces = threading.Event(), []

    def long_chat():
        for text in stream_chat(hub, "base", HI, max_new_tokens=20 * SLICE_TOKENS):
            long_pieces.append(text)
            long_started.set()

    worker = threading.Thread(target=long_chat)
    worker.start()
    assert long_started.wait(60)
    started = time.perf_counter()
    short = list(stream_chat(hub, "base", [{"role": "user", "content": "Bye"}], max_new_tokens=4))
    short_s = time.perf_counter() - started
    long_done_when_short_was = len(long_pieces)
    worker.join()
    assert short and long_done_when_short_was < len(long_pieces)  # the long answer was still going
    print(f"short answer in {short_s:.2f} s beside a {20 * SLICE_TOKENS}-token one")


def test_the_shared_lock_is_handed_over_in_arrival_order():
    from trainers.adapters import FairRLock

    lock, order = FairRLock(), []
    lock.acquire()
    lock.acquire()  # reentrant
    waiters = [threading.Thread(target=lambda n=n: (lock.acquire(), order.append(n), lock.release()))
               for n in range(4)]
    for waiter in waiters:
        waiter.start()
        time.sleep(0.05)  # arrive in order
    lock.release()
    lock.release()
    for waiter in waiters:
        waiter.join(5)
    assert order == [0, 1, 2, 3]
    assert not lock.acquire(blocking=False) or lock.release() is None


def test_a_saved_run_and_job_record_their_owner(tiny_config, playground_home, public):
    from trainers import jobs, runs
    from trainers.job_queue import JobQueue
    from trainers.submit import submit_training

    queue = JobQueue()
    run_id, job = submit_training(tiny_config(max_steps=1, **{k: v for k, v in TINY.items() if k != "base_model"}),
                                  owner="w-a", queue=queue)
    assert runs.read_run(run_id)["owner"] == "w-a" and jobs.read_job(job["id"])["owner"] == "w-a"
    queue.cancel(job["id"])
    queue.wait(job["id"], 120)
    assert json.loads((playground_home / "runs" / run_id / "run.json").read_text())["owner"] == "w-a"


@pytest.mark.parametrize("tab, follow, kind", [("evaluate_tab", "follow_eval", "eval"),
                                               ("paraphrase_tab", "follow_grid", "answers")])
def test_a_job_id_of_another_workspace_shows_neither_progress_nor_result(public, tab, follow, kind):
    import importlib

    from trainers import jobs

    follow_fn = getattr(importlib.import_module(f"playground.{tab}"), follow)
    record = jobs.create_job(kind, [jobs.phase(kind, kind, models=["base"])], owner="w-a",
                             estimate={"seconds": None, "phases": [{"seconds": None, "key": None}], "missing": []})
    jobs.update_job(record["id"], status="running", progress={"done": 3, "total": 9, "unit": "answers",
                                                              "phase": kind})
    assert "3" in follow_fn(record["id"], None, owner="w-a")[0]  # the owner follows it
    seen = follow_fn(record["id"], None, owner="w-b")
    assert seen[0] == "" and all(not isinstance(v, str) or not v for v in seen)
