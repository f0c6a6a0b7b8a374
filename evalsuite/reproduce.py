"""Reproduce the seed's claims: train every stage on the starter data, evaluate all of them and the base, and
state for each claim in the seed's "Expected Behavior" lists and its efficiency table the measured evidence and
whether it held.

    python -m evalsuite reproduce --out outputs/reproduce          # embedded model, CPU, short presets

Each stage trains in its own process (`python -m trainers train`), so each run's peak memory is its own.
A claim that does not hold is reported as not holding, with the numbers.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from evalsuite.claims import judge_claims, render_claims_html
from evalsuite.runner import run_eval
from trainers import runs
from trainers.paths import CONFIGS

STAGES = {  # name -> (config, overrides for the short preset)
    "stage1": ("stage1_sft.yaml", {}),
    "stage2": ("stage2_instruction.yaml", {}),
    "lora": ("stage3_lora.yaml", {}),
    "qlora": ("stage3_qlora.yaml", {}),
}
PRESET = {"max_steps": 40, "save_steps": 0, "max_length": 128}


def train_stage(name: str, base_model: str, steps: int, log) -> str:
    config, extra = STAGES[name]
    overrides = {**PRESET, **extra, "base_model": base_model, "run_name": f"reproduce-{name}"}
    if steps:
        overrides["max_steps"] = steps
    args = [sys.executable, "-m", "trainers", "train", str(CONFIGS / config)]
    for key, value in overrides.items():
        args += ["--set", f"{key}={value}"]
    log(f"training {name}: {' '.join(args[3:])}")
    proc = subprocess.run(args, capture_output=True, text=True, env=os.environ.copy())
    run_id = next((line.split()[1].rstrip(":") for line in proc.stdout.splitlines() if line.startswith("run ")), None)
    if proc.returncode != 0 or run_id is None:
        raise RuntimeError(f"{name} failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
    return run_id


def reproduce(out_dir, steps: int = 0, base_model: str = "embedded", progress=None, limit: int | None = 36,
              max_new_tokens: int = 40) -> dict:
    """Train the four stages and judge the claims. The evaluation takes 6 queries per category by default (on 2 CPU
    cores the whole suite over five models takes longer than all the training); `limit=None` runs all of it."""
    log = progress or (lambda message: None)
    started = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run_ids = {name: train_stage(name, base_model, steps, log) for name in STAGES}
    log("evaluating base + " + ", ".join(run_ids.values()))
    report = run_eval(["base", *run_ids.values()], out / "eval", base_model=base_model, limit=limit,
                      max_new_tokens=max_new_tokens)
    records = {name: runs.read_run(rid) for name, rid in run_ids.items()}
    metrics = {name: runs.read_metrics(rid) for name, rid in run_ids.items()}
    sizes = {name: runs.artifact_size_mb(rid) for name, rid in run_ids.items()}
    claims = judge_claims(report, run_ids, records, metrics, sizes)
    seconds = time.perf_counter() - started
    result = {"run_ids": run_ids, "claims": claims["claims"], "efficiency": claims["efficiency"],
              "seconds": round(seconds, 1), "report_path": str(out / "claims.html"),
              "eval_report": str(out / "eval" / "report.html")}
    (out / "claims.json").write_text(json.dumps(result, indent=2))
    (out / "claims.html").write_text(render_claims_html(result))
    return result
