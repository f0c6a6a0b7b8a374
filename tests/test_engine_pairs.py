"""Preference pairs from a model's own answers, as a job (trainers.submit.submit_pairs -> the `pairs` phase): the
saved dataset is valid preference data that the Stage 4 DPO preset trains on, a build without pairs fails with what
to change and saves nothing, the work is priced and learned as answers work, bad requests are refused before a job
exists, and the Data tab's poll shows a job's result to its own workspace only.

    python -m pytest -q tests/test_engine_pairs.py
"""

import json

import pytest

from conftest import LEARNABLE
from evalsuite.scorers import score_details
from trainers import jobs, runs
from trainers.data import load_valid_rows
from trainers.paths import datasets_dir, home

# The random-init tiny model's sampled 3-token answers contain an 'e' about half the time (sampling is seeded per
# batch, so the same answers every run): some prompts get a pass and a fail, the stuff pairs are made of.
SOME_E = {"type": "constraints", "constraints": [{"kind": "letter_frequency", "letter": "e", "n": 1}]}
NEVER = {"type": "exact", "answers": ["qqxqq-zzyzz"]}  # no sampled answer is this


def prompt_file(write_jsonl, check: dict, name: str = "prompts.jsonl", n: int = 6):
    return write_jsonl([{"prompt": f"Write about {word}.", "check": check} for word, _ in LEARNABLE[:n]], name)


def test_a_pairs_job_saves_preference_data_that_stage4_dpo_trains_on(job_queue, write_jsonl, tiny_config, train_now,
                                                                      tiny_path):
    from trainers.submit import submit_pairs

    prompts = prompt_file(write_jsonl, SOME_E)
    job = submit_pairs("base", str(prompts), samples=6, temperature=1.0, max_new_tokens=3, name="self_pairs",
                       base_model="tiny", queue=job_queue)
    assert job["phases"][0]["spec"]["n_prompts"] == 6
    record = job_queue.wait(job["id"], timeout_s=300)
    assert record["status"] == "completed", record["error"]
    result = record["result"]
    path = datasets_dir() / "self_pairs.jsonl"
    assert result["dataset"] == "self_pairs" and result["path"] == str(path)
    assert record["progress"]["done"] == record["progress"]["total"] == 36
    stats = result["stats"]
    assert stats["prompts"] == 6 and stats["answers"] == 36 and stats["pairs"] >= 2
    assert stats["all_pass"] + stats["all_fail"] + stats["pairs"] == 6  # one pair per prompt with a pass and a fail
    fmt, pairs = load_valid_rows(path)
    assert fmt == "preference" and len(pairs) == stats["pairs"] and result["preview"] == pairs[:5]
    for pair in pairs:  # chosen really passes the prompt's check, rejected really fails it
        assert score_details({"check": SOME_E, "category": ""}, pair["chosen"])["passed"]
        assert not score_details({"check": SOME_E, "category": ""}, pair["rejected"])["passed"]
    assert not list(datasets_dir().glob(".*.tmp"))  # the atomic write left no temp file

    # priced and learned as answers work: one calibration entry for answer grids and pairs
    phase = record["phases"][0]
    assert phase["timing_key"].endswith("|answers")
    assert (json.loads((home() / "timing.json").read_text())[phase["timing_key"]]["rate_s"]) > 0

    run = train_now(tiny_config("stage4_dpo.yaml", dataset="self_pairs", max_steps=2))
    assert run["status"] == "completed", run["error"]
    assert [m["step"] for m in runs.read_metrics(run["id"]) if "rewards/margins" in m] == [1, 2]


def test_a_build_without_pairs_fails_the_job_with_what_to_change_and_saves_nothing(run_cli, write_jsonl, tmp_path):
    prompts = prompt_file(write_jsonl, NEVER, n=3)
    out = tmp_path / "out" / "pairs.jsonl"
    out.parent.mkdir()
    result = run_cli("pairs", "--run", "base", "--base-model", "tiny", "--prompts", prompts, "--out", out,
                     "--samples", "2", "--max-new-tokens", "2", timeout=240)
    assert result.returncode == 1, result.stdout + result.stderr
    assert ("error: No pairs: none of the 3 prompts had both a passing and a failing answer (0 all passed, 3 all "
            "failed, 0 code prompts skipped), so nothing was saved; sample more answers per prompt, raise the "
            "temperature, or pick another run") in result.stderr
    assert not list(out.parent.iterdir())  # no file, no temp file
    [record] = jobs.list_jobs()  # the CLI ran it as a foreground job, like the app's
    assert record["kind"] == "pairs" and record["status"] == "failed" and record["owner"] == "cli"
    assert record["phases"][0]["error"].startswith("No pairs: none of the 3 prompts")


@pytest.mark.parametrize(("change", "refusal"), [
    ({"samples": 1}, "samples per prompt: must be 2 to 16 (got 1)"),
    ({"temperature": 0.0}, "temperature: must be above 0 and at most 2 (got 0)"),
    ({"max_new_tokens": 0}, "max new tokens: must be at least 1 (got 0)"),
    ({"max_new_tokens": 300}, "max_new_tokens: 300 is over the limit of 256 tokens"),
    ({"samples": 5}, "sampled answers (prompts x samples per prompt): 112 prompts x 5 samples = 560 is over the "
                     "limit of 448 answers"),
    ({"name": ""}, "name: '' is not a dataset name"),
    ({"name": "../x"}, "name: '../x' is not a dataset name"),
    ({"name": "grpo_prompts"}, "name: 'grpo_prompts' belongs to a starter dataset; pick another name"),
    ({"target": "2026-nope"}, "model: '2026-nope' is not one of your runs"),
    ({"prompts": "preference"}, "prompts: 'preference' is not a set of prompts with a check ({prompt, check} "
                                "rows): line 1: check: missing"),
])
def test_bad_requests_are_refused_before_a_job_exists(monkeypatch, change, refusal):
    from trainers.submit import submit_pairs

    monkeypatch.setenv("PLAYGROUND_MODE", "public")
    request = {"target": "base", "prompts": "grpo_prompts", "samples": 4, "temperature": 1.0, "max_new_tokens": 64,
               "name": "mine", "base_model": "tiny", **change}
    with pytest.raises(ValueError) as refused:
        submit_pairs(owner="w-a", **request)
    assert refusal in str(refused.value)
    assert not jobs.list_jobs()


def finished_pairs_job(owner: str) -> dict:
    record = jobs.create_job("pairs", [jobs.phase("pairs", "pairs", target="base", save_as="theirs")], owner=owner,
                             estimate={"seconds": None, "phases": [{"seconds": None, "key": None}], "missing": []})
    stats = {"prompts": 3, "answers": 12, "passed": 4, "failed": 5, "all_pass": 1, "all_fail": 0, "skipped_code": 0,
             "pairs": 2}
    pairs = [{"prompt": "Write about apple.", "chosen": "tree", "rejected": "tr"}]
    return jobs.update_job(record["id"], status="completed", result={
        "dataset": "theirs", "path": "/srv/home/datasets/w-a/theirs.jsonl", "stats": stats, "preview": pairs})


def test_the_data_tab_shows_a_pairs_result_to_its_own_workspace_only(monkeypatch):
    from playground.pairs_panel import follow_pairs, latest_pairs_job

    monkeypatch.setenv("PLAYGROUND_MODE", "public")
    job_id = finished_pairs_job("w-a")["id"]
    progress, message, stats, preview, shown = follow_pairs(job_id, None, owner="w-a")
    assert "saved: theirs" in message and "Stage 4 DPO preset" in message and "/srv" not in message
    assert "| 3 | 12 | 4 | 5 | 1 | 0 | 0 | 2 |" in stats and preview == [["Write about apple.", "tree", "tr"]]
    assert shown == job_id and progress
    seen = follow_pairs(job_id, None, owner="w-b")
    assert seen[0] == "" and all(not isinstance(v, str) or not v for v in seen)  # nothing: no progress, no result
    assert latest_pairs_job(None, owner="w-b") is None and latest_pairs_job(None, owner="w-a") == job_id
