"""What a class sees, through the functions behind the tabs (no browser): runs listed by readable labels with the run
id as the value, the Train form showing the run a reloaded page re-attaches to, warnings that go once the input
changes, time estimates from the stored calibration before every start and how far off they were after, the
validation loss on the loss chart, and chat replies that name the model that wrote them.

    python -m pytest -q tests/test_ui_class_mode.py
"""

import json
import statistics
from datetime import datetime

import gradio as gr
import pytest

from conftest import TINY, learnable_rows, train_form_args
from trainers import jobs, runs, timing

CALIBRATED_AT = "2026-12-01T13:05:00+00:00"


def make_run(run_id: str, stage: str = "stage3", method: str = "lora", status: str = "completed", artifact=True,
             **config) -> str:
    from trainers.config import build_config, to_dict

    values = to_dict(build_config({"stage": stage, "method": method, "base_model": "tiny", **config}))
    runs.create_run(run_id, values)
    folder = runs.run_path(run_id) / ("adapter" if method != "full" else "model")
    if artifact:
        folder.mkdir()
    runs.update_run(run_id, status=status, started_at=runs.now_iso(), artifact_dir=str(folder) if artifact else None)
    return run_id


def clock(run_id: str) -> str:
    return runs.created_local(runs.read_run(run_id)).strftime("%H:%M")


def test_every_run_list_shows_labels_over_run_ids():
    from playground.common import model_targets, run_choices
    from playground.evaluate_tab import phases_table
    from playground.jobs_panel import jobs_table
    from playground.train_tab import init_choices

    named = make_run(runs.new_run_id("stage3", "lora", "my-name"), run_name="my-name")
    full = make_run(runs.new_run_id("stage2", "full"), stage="stage2", method="full")
    twins = [make_run(f"20201201-1405{s}-stage1-full", stage="stage1", method="full") for s in ("01", "59")]
    legacy = make_run("20201130-090000-stage3-qlora-old-name", method="qlora", status="cancelled")
    record = runs.read_run(legacy)
    runs.write_run(legacy, {k: v for k, v in record.items() if k != "name"})  # recorded before run.json kept it

    choices = dict((value, label) for label, value in run_choices())
    assert choices[full] == f"Stage 2 · full · {clock(full)}"
    assert choices[named] == f"Stage 3 · LoRA · {clock(named)} · my-name"
    assert choices[legacy] == "Stage 3 · QLoRA · Nov 30 2020 09:00 · old-name (cancelled)"
    assert {choices[t] for t in twins} == {"Stage 1 · full · Dec 1 2020 14:05:01",
                                           "Stage 1 · full · Dec 1 2020 14:05:59"}  # same minute: the seconds
    assert (choices[named], named) in model_targets() and ("base model", "base") in model_targets()
    assert (choices[full], full) in init_choices() and named not in dict(init_choices()).values()

    job = jobs.create_job("train", [jobs.phase("train", "train", run_id=named)], run_ids=[named])
    assert [row[-2] for row in jobs_table() if row[0] == job["id"]] == [choices[named]]
    done = {**job, "phases": [{**job["phases"][0], "status": "completed", "result": {"run_id": named}}]}
    assert phases_table(done)[0][2] == choices[named]  # the Lesson and Reproduce phase tables


def test_a_reloaded_page_shows_the_watched_runs_config_in_the_train_form(learnable_dataset):
    from playground import build_app
    from playground.notes import STAGE_NOTES
    from playground.train_tab import EDITABLE, apply_preset, attach

    empty = attach(None, None)
    assert empty[0] is None and all(value == gr.skip() for value in empty[6:])  # no run: the defaults stay

    run_id = make_run(runs.new_run_id("stage3", "qlora", "restored"), method="qlora", dataset=str(learnable_dataset),
                      learning_rate=0.002, max_steps=17, lora_r=4, target_modules=["q_proj", "v_proj"],
                      run_name="restored", eval_fraction=0.25)
    job = jobs.create_job("train", [jobs.phase("train", "train", run_id=run_id)], run_ids=[run_id])
    jobs.update_job(job["id"], status="completed", started_at=runs.now_iso())

    watched, _, progress, _, _, samples, preset, base, note, dataset, init_from, lora_row, stage4_row, *fields = \
        attach(None, None)
    assert watched == run_id and "restored" in progress
    assert (preset, base, note) == ("stage3_qlora", "tiny", STAGE_NOTES["stage3_qlora"])
    assert dataset["value"] == str(learnable_dataset) and lora_row["visible"] and init_from["visible"]
    assert not stage4_row["visible"] and not samples["visible"]  # a QLoRA run: no Stage 4 fields, no samples
    values = dict(zip(EDITABLE, (f["value"] for f in fields), strict=True))
    assert values["learning_rate"] == 0.002 and values["max_steps"] == 17 and values["lora_r"] == 4
    assert values["target_modules"] == "q_proj, v_proj" and values["run_name"] == "restored"
    assert values["eval_fraction"] == 0.25

    # the stage radio sets the stage itself on re-attach; only a user's pick of a stage resets the fields to it
    demo = build_app()
    [preset_fn] = [fn for fn in demo.fns.values() if fn.fn.__name__ == apply_preset.__name__]  # owned() wraps it
    assert [event for _, event in preset_fn.targets] == ["input"]


def test_a_warning_goes_when_the_input_changes_and_a_success_replaces_it(learnable_dataset):
    from playground.train_tab import form_changed, start_training

    args = train_form_args("stage1_sft", "tiny", str(learnable_dataset), learning_rate=0, **{
        k: v for k, v in TINY.items() if k != "base_model"})
    with pytest.warns(UserWarning):
        warning, _, _ = start_training(*args)
    assert "learning_rate: must be > 0" in warning
    fixed = train_form_args("stage1_sft", "tiny", str(learnable_dataset), learning_rate=1e-4)
    cli, _, message = form_changed(warning, *fixed)
    assert message == "" and "learning_rate=0.0001" in cli
    assert form_changed("✓ Run x is starting now", *fixed)[2] == gr.skip()  # good news stays


def write_calibration(home, entries: dict) -> None:
    (home / "timing.json").write_text(json.dumps({
        key: {"rate_s": rate, "overhead_s": overhead, "updated_at": CALIBRATED_AT, "samples": []}
        for key, (rate, overhead) in entries.items()}))


def local(iso: str) -> str:
    when = datetime.fromisoformat(iso).astimezone()
    return f"{when:%b} {when.day} {when:%H:%M}"


def trained_tokens_per_step(config, tokenizer) -> float:
    """Counted here the way the trainer counts them: each rendered row's tokens plus its end-of-sequence token."""
    from trainers.stage1_sft import render_rows

    examples = render_rows(learnable_rows(), "stage1", tokenizer, config)
    mean = statistics.fmean(len(tokenizer(e["prompt"] + e["completion"], add_special_tokens=False)["input_ids"]) + 1
                            for e in examples)
    return config.per_device_train_batch_size * config.gradient_accumulation_steps * mean


def test_the_train_tab_prices_a_planned_run_from_the_stored_calibration(playground_home, learnable_dataset,
                                                                        tiny_config, tiny_tokenizer):
    from playground.train_tab import estimate_text

    form = {"max_length": 128, "per_device_train_batch_size": 2, "save_steps": 0}
    args = train_form_args("stage1_sft", "tiny", str(learnable_dataset), max_steps=10, **form)
    assert "no calibration yet (train-full on this machine): the first run measures it" in estimate_text(*args)

    config = tiny_config(dataset=str(learnable_dataset), max_steps=10)
    rate = 60 / (10 * trained_tokens_per_step(config, tiny_tokenizer))  # ten steps cost 60 s, plus 20 s fixed
    write_calibration(playground_home, {timing.training_key(config): (rate, 20.0)})
    text = estimate_text(*args)
    assert f"about 1 min 20 s on this machine, from a calibration of {local(CALIBRATED_AT)}" in text
    assert "trainable parameters" in text  # beside the memory estimate
    twice = estimate_text(*train_form_args("stage1_sft", "tiny", str(learnable_dataset), max_steps=20, **form))
    assert "about 2 min 20 s" in twice  # the work doubles, the fixed cost does not


def test_the_jobs_panel_and_the_train_tab_show_how_far_off_an_estimate_was():
    from playground.jobs_panel import job_html, jobs_table
    from playground.train_tab import progress_html

    job = jobs.create_job("eval", [jobs.phase("evaluate", "eval", models=["base"], limit=1, base_model="tiny")])
    jobs.update_job(job["id"], status="completed", estimated_s=50.0, measured_s=42.0)
    assert "took 42 s, estimated 50 s (+19%)" in job_html(job["id"])
    assert [row[6] for row in jobs_table() if row[0] == job["id"]] == ["took 42 s, estimated 50 s (+19%)"]
    run_id = make_run(runs.new_run_id("stage3", "lora"))
    runs.update_run(run_id, estimated_s=80.0, measured_s=100.0)
    assert "took 1 min 40 s, estimated 1 min 20 s (-20%)" in progress_html(runs.read_run(run_id), [], 10)


def test_the_loss_chart_draws_the_validation_loss_beside_the_raw_and_smoothed_one():
    from playground.train_tab import log_tail, metrics_figure

    rows = [{"step": s, "loss": 3.0 - 0.2 * s, "learning_rate": 1e-3, "tokens_per_second": 100} for s in range(1, 6)]
    evals = [{"step": 2, "eval_loss": 2.9}, {"step": 4, "eval_loss": 2.7}, {"step": 5, "eval_loss": 2.65}]
    figure = metrics_figure(rows, "t", evals)
    assert {"loss", "loss, smoothed", "validation loss"} <= {t.name for t in figure.data}
    validation = next(t for t in figure.data if t.name == "validation loss")
    assert list(validation.x) == [2, 4, 5] and list(validation.y) == [2.9, 2.7, 2.65]
    assert "validation loss" not in {t.name for t in metrics_figure(rows, "t").data}  # off: nothing drawn
    record = {"id": "r", "status": "running", "stage": "stage1", "method": "full", "base_model": "tiny",
              "held_out_rows": 16}
    assert "validation loss 2.6500 at step 5 (16 held-out rows)" in log_tail(record, rows, evals)


def test_the_evaluate_and_lesson_tabs_price_their_buttons_from_the_calibration(playground_home):
    from evalsuite.runner import planned_generations
    from playground.evaluate_tab import eval_estimate, reproduce_estimate
    from playground.lesson_tab import live_estimate, prepare_estimate
    from trainers import timing

    assert "no calibration yet (eval on this machine)" in eval_estimate(["base"], 2, False, "tiny")
    assert "train-qlora" in reproduce_estimate(1, 6, "tiny")
    assert "train-dpo-lora" in reproduce_estimate(1, 6, "tiny")  # priced before the Stage 2 run it starts from exists
    device, dtype = timing.machine()
    answers = planned_generations(2, 2)
    calibration = {timing.work_key("tiny", device, dtype, "eval"): (90 / (answers * 64), 10.0)}
    (playground_home / "timing.json").write_text(json.dumps({
        key: {"rate_s": rate, "overhead_s": fixed, "updated_at": runs.now_iso(), "samples": []}
        for key, (rate, fixed) in calibration.items()}))
    text = eval_estimate(["base", "some-run"], 2, False, "tiny")
    assert f"{answers:,} answers at most" in text and "about 1 min 40 s on this machine" in text
    # the lesson's preset is reproduce on three stages: no DPO phase
    assert "no calibration yet (judge, train-full, train-lora on this machine)" in prepare_estimate(1, 6, "tiny")
    assert "no calibration yet (train-lora on this machine)" in live_estimate("lora", "tiny")
    assert "is not one of" in live_estimate("dpo", "tiny")


def test_each_chat_reply_names_the_model_that_wrote_it(monkeypatch, tiny_config, learnable_dataset, train_now):
    from playground.chat_tab import chat

    monkeypatch.setenv("PLAYGROUND_BASE_MODEL", "tiny")
    record = train_now(tiny_config("stage3_lora.yaml", dataset=str(learnable_dataset), max_steps=2,
                                   run_name="chatty"))
    history = []
    for target in ("base", record["id"]):
        *_, (history, _, status) = chat("Say hi.", history, "tiny", target, "", 0.0, 0.95, 4)
        assert history[-1]["role"] == "assistant" and history[-1]["content"]
        assert history[-1]["metadata"]["log"] == "on tiny" and history[-1]["metadata"]["duration"] >= 0
    assert [m["metadata"]["title"] for m in history if m["role"] == "assistant"] == [
        "base model", runs.run_label(runs.read_run(record["id"]))]
    assert "chatty" in history[-1]["metadata"]["title"] and "chatty" in status
