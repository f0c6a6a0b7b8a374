"""The app without a browser: it imports without torch, exposes the named actions, and the functions behind the
tabs do what the tabs promise (the CLI shown is the run started, edits survive a save, the paraphrase tab formats
the evaluation's variants, the pre-run estimate matches what training measures, an exported LoRA equals base +
adapter).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
REQUIRED_APIS = {"start_training", "cancel_training", "chat", "compare", "paraphrase_test", "run_eval"}


def test_app_imports_fast_without_torch():
    code = ("import sys, time; t = time.perf_counter(); import app; "
            "print(int('torch' in sys.modules), int('transformers' in sys.modules), time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                         check=True).stdout.split()
    assert out[:2] == ["0", "0"], "app.py / playground must not import torch or transformers at import time"


def test_main_actions_have_api_names_and_plumbing_is_private():
    from playground import PUBLIC_APIS, build_app

    demo = build_app()
    public = {fn.api_name for fn in demo.fns.values() if fn.api_visibility == "public"}
    assert REQUIRED_APIS <= public
    assert public == PUBLIC_APIS


def test_show_the_code_reproduces_the_form():
    """The CLI command in "Show the code" rebuilds exactly the config the Start button would train."""
    import shlex

    from playground.train_tab import EDITABLE, code_for, collect, field_value, preset_path
    from trainers.config import load_config, parse_overrides, to_dict

    preset = "stage3_lora"
    values = {n: field_value(n, getattr(load_config(preset_path(preset)), n)) for n in EDITABLE}
    values.update(learning_rate=0.0005, max_steps=7, lora_r=4, target_modules="q_proj, v_proj", run_name="x-y.2")
    form = ("tiny", "assets/datasets/stage2_instruction.jsonl", "", *[values[n] for n in EDITABLE])
    config, problems = collect(preset, *form)
    assert problems == []
    command, config_yaml = code_for(preset, *form)
    words = shlex.split(command.replace("\\\n", " "))
    assert words[:4] == ["python", "-m", "trainers", "train"]
    pairs = [words[i + 1] for i, w in enumerate(words) if w == "--set"]
    assert to_dict(load_config(REPO / words[4], parse_overrides(pairs))) == to_dict(config)
    assert "lora_r: 4" in config_yaml


def test_form_refuses_out_of_range_values():
    from playground.train_tab import EDITABLE, collect, field_value, preset_path
    from trainers.config import load_config

    values = {n: field_value(n, getattr(load_config(preset_path("stage3_lora")), n)) for n in EDITABLE}
    values.update(learning_rate=0, lora_r=0, max_length=4, max_steps=0)
    config, problems = collect("stage3_lora", "tiny", "x.jsonl", "", *[values[n] for n in EDITABLE])
    assert config is None
    text = "\n".join(problems)
    for field in ("learning_rate", "lora_r", "max_length", "max_steps"):
        assert field in text


def test_data_edits_survive_a_save(monkeypatch, playground_home):
    from playground.data_tab import edit_rows, rows_from_source, save_dataset
    from trainers.data import load_valid_rows
    from trainers.sft_core import resolve_dataset

    monkeypatch.setenv("PLAYGROUND_BASE_MODEL", "tiny")
    data, message = rows_from_source(str(REPO / "assets/datasets/stage1_sft.jsonl"))
    assert data["format"] == "stage1" and len(data["rows"]) > 10
    data, *_ = edit_rows("delete", data, "stage1", 1, 0)
    data, *_ = edit_rows("update", data, "stage1", 2, 0, "Say hi.", "hi")
    data, *_ = edit_rows("add", data, "stage1", 1, 0, "Say bye.", "bye")
    with pytest.warns(UserWarning, match="Not saved: 1 error"):  # the toast the user sees
        refused = save_dataset({**data, "rows": data["rows"] + [{"prompt": "", "output": "x"}],
                                "errors": data["errors"] + [""], "lines": data["lines"] + [9999]}, "stage1", "bad", 0)
    assert "Not saved" in refused
    assert "Saved" in save_dataset(data, "stage1", "edited", 0)
    fmt, rows = load_valid_rows(resolve_dataset("edited"))
    assert fmt == "stage1" and rows[0] == {"prompt": "Say hi.", "output": "hi"} and rows[-1]["output"] == "bye"
    assert len(rows) == len(data["rows"])


def test_unreadable_upload_says_so(tmp_path):
    from playground.data_tab import rows_from_source

    fake = tmp_path / "fake.parquet"
    fake.write_text("this is text")
    with pytest.warns(UserWarning, match="Could not read fake.parquet"):  # the toast the user sees
        _, message = rows_from_source(str(fake), "fake.parquet")
    assert "Could not read fake.parquet" in message
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.warns(UserWarning, match="empty.jsonl has no rows"):
        assert "has no rows" in rows_from_source(str(empty), "empty.jsonl")[1]


def test_paraphrase_tab_formats_the_evaluation_variants_and_metrics():
    """The tab builds the evaluation's variants from the typed lines and only formats evalsuite's metrics."""
    from evalsuite.variants import build_variants
    from playground.paraphrase_tab import robustness_rows, typed_variants

    variants = typed_variants("Capital of France?\n\n  Name the capital of France. \n", "", False)
    assert variants == build_variants(["Capital of France?", "Name the capital of France."], templates=False)
    assert [v["variant"] for v in typed_variants("a\nb", "", True)][2:] == [
        "tpl:alpaca", "tpl:qa", "tpl:prompt_reply", "tpl:inst_tags", "tpl:request"]
    table = robustness_rows(variants, {"m": ["Paris", "Lyon"]}, {"m": [(1.0, True), (0.0, False)]}, "custom")
    # the mean over the two phrasings, with its interval resampling the phrasings (n=2: anywhere from 0 to 1)
    assert table == [["m", "0.50", "[0.00, 1.00] n=2", "0.00", "1.00", "0.00", "1.00", "0.50", "-", "-"]]


def test_paraphrase_heatmap_shows_each_models_mean_with_its_interval():
    from playground.paraphrase_tab import heatmap, typed_variants

    variants = typed_variants("a\nb\nc\nd", "", False)
    answers = {"m": ["x", "x", "y", "x"], "k": ["x"] * 4}
    scores = {"m": [(1.0, True), (1.0, True), (0.0, False), (1.0, True)], "k": [(1.0, True)] * 4}
    fig = heatmap(variants, answers, scores, "matches")
    heat, bars = fig.data
    assert heat.type == "heatmap" and bars.type == "bar" and bars.orientation == "h"
    assert list(bars.x) == [0.75, 1.0] and list(bars.y) == ["m", "k"]
    assert bars.error_x.arrayminus[0] > 0 and bars.error_x.array[1] == 0  # k: every phrasing right, no spread
    assert bars.hovertext[0].endswith("n=4 phrasings") and "over 4 phrasings" in fig.layout.annotations[0].text


def test_estimate_and_export_match_a_real_lora_run(tiny_config, train_now):
    """The Train tab's estimate counts the same trainable parameters the run measures, and the Runs tab's export
    (merge_and_unload) gives the same logits as base + adapter."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from trainers.estimate import estimate_training
    from trainers.export import merge_adapter
    from trainers.models import resolve_model

    config = tiny_config("stage3_lora.yaml", max_steps=2, learning_rate=0.01)
    estimate = estimate_training(config)
    record = train_now(config)
    assert record["status"] == "completed"
    assert estimate["trainable_params"] == record["trainable_params"]
    assert estimate["total_params"] == record["total_params"]
    full = estimate_training(tiny_config("stage1_sft.yaml"))
    assert full["trainable_params"] == full["total_params"] == estimate["total_params"] - estimate["trainable_params"]
    assert full["total_mb"] > estimate["total_mb"]

    folder = merge_adapter(record["id"])
    assert (folder / "config.json").is_file() and not (folder / "adapter_config.json").exists()
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    base = AutoModelForCausalLM.from_pretrained(resolve_model("tiny"), dtype=torch.float32)
    with torch.no_grad():
        expected = PeftModel.from_pretrained(base, record["artifact_dir"]).eval()(ids).logits
        merged = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()(ids).logits
    assert torch.allclose(expected, merged, atol=1e-4)
    assert json.loads((folder / "config.json").read_text())["num_hidden_layers"] == 2


def test_the_estimate_leaves_torch_default_dtype_alone_while_a_model_loads(tiny_config):
    """The Train tab's estimate runs in the app process, where the chat hub may be loading its bf16 base in another
    thread: transformers builds models under torch.set_default_dtype, which is process-wide, and an estimate built
    that way gave the base fp32 weights among bf16 ones (a chat then failed on mixed dtypes)."""
    import threading

    import torch
    from transformers.modeling_utils import local_torch_dtype

    from trainers.estimate import estimate_training

    seen, loading, done = set(), threading.Event(), threading.Event()

    def load_base():
        with local_torch_dtype(torch.bfloat16):
            loading.set()
            while not done.is_set():
                seen.add(torch.empty(1).dtype)  # what a weight created by this load would get

    thread = threading.Thread(target=load_base)
    thread.start()
    loading.wait(10)
    for _ in range(3):
        estimate_training(tiny_config("stage3_lora.yaml"))
    done.set()
    thread.join(10)
    assert seen == {torch.bfloat16} and torch.get_default_dtype() == torch.float32


def test_export_refuses_a_full_run(tmp_path, monkeypatch):
    from trainers import runs
    from trainers.export import merge_adapter

    runs.create_run("r1", {"stage": "stage1", "method": "full", "base_model": "tiny", "dataset": "x"})
    with pytest.raises(ValueError, match="full checkpoint"):
        merge_adapter("r1")


def test_smoothed_loss_follows_the_trend_not_one_noisy_step():
    from playground.train_tab import metrics_figure, smoothed

    noisy = [2.0, 1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 1.0]
    curve = smoothed(noisy)
    assert curve[0] == 2.0  # debiased: the first point is the first value, not 0.2 x it
    assert max(curve[4:]) - min(curve[4:]) < 0.5 < max(noisy) - min(noisy)  # the zigzag is damped
    assert smoothed([3.0, None, 1.0])[1] is None and smoothed([]) == []
    figure = metrics_figure([{"step": i + 1, "loss": v, "learning_rate": 1e-3, "tokens_per_second": 10}
                             for i, v in enumerate(noisy)], "t")
    assert [t.name for t in figure.data].count("loss, smoothed") == 1


def test_every_metric_the_paraphrase_table_shows_is_explained_beside_it():
    from playground.notes import METRIC_NOTES, metric_notes
    from playground.paraphrase_tab import ROBUSTNESS_HEADERS

    explained = " / ".join(METRIC_NOTES)
    assert [h for h in ROBUSTNESS_HEADERS[1:] if h not in explained] == []
    assert all(f"**{name}**" in metric_notes() for name in METRIC_NOTES)
