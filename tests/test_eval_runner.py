"""The evaluation runner and the seed reproduction, end to end on the tiny model."""

import json

from conftest import REPO


def test_run_eval_writes_reports_caches_answers_and_scores_adapters_apart(tiny_config, train_now, tmp_path,
                                                                           learnable_dataset, monkeypatch):
    from evalsuite import runner
    from evalsuite.runner import planned_generations, run_eval
    from evalsuite.suite import CATEGORIES
    from trainers.adapters import BASE, ModelHub

    record = train_now(tiny_config("stage3_lora.yaml", max_steps=4, learning_rate=0.05,
                                   dataset=str(learnable_dataset)))
    hub = ModelHub("tiny")
    out = tmp_path / "eval"
    calls = []
    report = run_eval([BASE, record["id"]], out, base_model="tiny", limit=6, hub=hub, max_new_tokens=4,
                      progress=calls.append, batch_size=8)
    assert {p.name for p in out.iterdir()} >= {"report.json", "report.csv", "report.html"}
    assert set(report["summary"]) == {"base", record["id"]}
    assert set(report["summary"]["base"]) == set(CATEGORIES)
    assert all(0 <= v["score"] <= 1 and v["n"] >= 1 and v["generations"] >= v["n"]
               for cats in report["summary"].values() for v in cats.values())
    cell = report["summary"]["base"]["factual"]  # limit 6 spreads one query per category: no interval from one
    assert (cell["n"], cell["ci_low"], cell["ci_high"]) == (1, None, None)
    assert {"paraphrase", "seen_template", "heldout_template"} <= set(report["robustness"]["base"])
    kinds = {r["variant_kind"] for r in report["results"]}
    assert kinds == {"paraphrase", "seen_template", "heldout_template"}
    # the trained adapter answers differently from the base on at least one prompt
    by_key = {}
    for r in report["results"]:
        by_key.setdefault((r["query_id"], r["variant"]), {})[r["model"]] = r["answer"]
    assert any(len(set(v.values())) > 1 for v in by_key.values())
    first = report["meta"]["generated"]
    # progress: one int per batch of at most batch_size answers, adding up to what the evaluate tab plans for
    assert first == planned_generations(2, 6) == sum(calls) and max(calls) == 8
    assert all(isinstance(n, int) for n in calls)
    calls.clear()
    hashed = []  # a model's identity hashes its weights (a full checkpoint is hundreds of MB): once per model
    monkeypatch.setattr(runner, "model_key", lambda t, base, key=runner.model_key: hashed.append(t) or key(t, base))
    again = run_eval([BASE, record["id"]], None, base_model="tiny", limit=6, hub=hub, max_new_tokens=4,
                     progress=calls.append)
    assert first > 0 and again["meta"]["generated"] == 0 and again["meta"]["cached"] == first and calls == []
    assert sorted(hashed) == sorted([BASE, record["id"]])
    assert [r["answer"] for r in again["results"]] == [r["answer"] for r in report["results"]]


def test_reproduce_reports_a_verdict_for_every_seed_claim(tmp_path, tiny_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = tmp_path / "repro"
    proc = subprocess.run([sys.executable, "-m", "evalsuite", "reproduce", "--base-model", "tiny", "--steps", "2",
                           "--limit", "6", "--max-new-tokens", "4", "--out", str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((out / "claims.json").read_text())
    claims = {c["claim"] for c in result["claims"]}
    for expected in ("Loss decreases smoothly", "Outputs are more task-correct", "No chat intelligence yet",
                     "May overfit to specific phrasings", "Same task works across multiple phrasings",
                     "General instruction-following improves", "May still hallucinate",
                     "Memory usage significantly reduced", "Similar performance to full fine-tuning",
                     "Base model knowledge preserved", "Tiny adapter files for deployment",
                     "Preference tuning (DPO) makes fewer wrong answers stated as fact"):
        assert expected in claims
    assert all(c["verdict"] in ("held", "did not hold", "inconclusive") and c["evidence"] for c in result["claims"])
    assert [r["method"] for r in result["efficiency"]] == ["Full fine-tune", "LoRA", "QLoRA"]
    page = (out / "claims.html").read_text()
    assert all(c["claim"] in page and c["verdict"] in page for c in result["claims"])
