"""The real embedded model (SmolLM2-135M-Instruct): a 2-step QLoRA run from the shipped config through the CLI,
and the resident base still answering what it knew with that adapter on."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, cli_env

pytestmark = pytest.mark.embedded


@pytest.fixture(scope="module")
def qlora_run(tmp_path_factory, model_cache):
    home = tmp_path_factory.mktemp("embedded-home")
    command = [sys.executable, "-m", "trainers", "train", "assets/configs/stage3_qlora.yaml",
               "--set", "max_steps=2", "--set", "max_length=128"]
    result = subprocess.run(command, cwd=REPO, env=cli_env(PLAYGROUND_HOME=str(home)), capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    [run] = list((home / "runs").iterdir())
    return home, run, result


def test_embedded_qlora_run_completes_with_a_small_trainable_share(qlora_run):
    _, run, result = qlora_run
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "completed"
    assert (record["method"], record["base_model"]) == ("qlora", "embedded")
    share = record["trainable_params"] / record["total_params"]
    assert 0.005 < share < 0.05, share
    assert 130e6 < record["total_params"] < 145e6  # 4-bit weights counted at their logical size: ~135M + adapters
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2]
    # a pretrained model already predicts these answers well; a random one would start near ln(49152) = 10.8
    assert all(math.isfinite(m["loss"]) and m["loss"] < 5 for m in metrics)
    adapter = Path(record["artifact_dir"])
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert set(config["target_modules"]) == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                             "down_proj"}
    assert (adapter / "adapter_model.safetensors").stat().st_size > 1e6


def test_embedded_base_keeps_its_knowledge_with_the_adapter_on(qlora_run, monkeypatch):
    from trainers.adapters import BASE, ModelHub
    from trainers.generate import answer_grid

    home, run, _ = qlora_run
    monkeypatch.setenv("PLAYGROUND_HOME", str(home))
    question = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
    answers = answer_grid(ModelHub("embedded"), [BASE, run.name], [question], max_new_tokens=8)
    assert all("Paris" in outs[0] for outs in answers.values()), answers
