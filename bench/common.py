"""Shared bits of the benchmarks: printing a result line, the machine, a bf16 matmul peak, a CLI training run."""

import json
import os
import platform
import subprocess
import sys
import time

from trainers import runs
from trainers.paths import CONFIGS


def emit(name: str, value, unit: str, **extra) -> dict:
    row = {"name": name, "value": round(value, 4) if isinstance(value, float) else value, "unit": unit, **extra}
    print(json.dumps(row), flush=True)
    return row


def machine() -> dict:
    import torch

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor()) if os.path.exists("/proc/cpuinfo") else platform.processor()
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "python": sys.version.split()[0],
            "torch": torch.__version__}


def matmul_peak_gflops(dtype_name: str = "bf16", size: int = 2048, repeats: int = 8) -> float:
    import torch

    dtype = torch.bfloat16 if dtype_name == "bf16" else torch.float32
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - started) / 1e9


def train_run(config: str, overrides: dict, label: str) -> dict:
    """One training run in its own process, so its peak memory is its own; returns run.json."""
    args = [sys.executable, "-m", "trainers", "train", str(CONFIGS / config), "--json",
            "--set", f"run_name=bench-{label}"]
    for key, value in overrides.items():
        args += ["--set", f"{key}={value}"]
    proc = subprocess.run(args, capture_output=True, text=True)
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    run_id = lines[0]["run_id"] if lines else None
    if proc.returncode != 0 or run_id is None:
        raise RuntimeError(f"bench run {label} failed: {proc.stderr.strip()[-500:]}")
    return runs.read_run(run_id)
