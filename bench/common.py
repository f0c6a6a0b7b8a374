"""Shared bits of the benchmarks: printing a result line, the machine and its CPU flags, matmul peak and memory
bandwidth on the device, a CLI training run."""

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


def cpu_flags() -> dict:
    """The CPU features that decide the training dtype (Linux; elsewhere unknown, and never needed on a GPU)."""
    try:
        flags = set(open("/proc/cpuinfo").read().split())
    except OSError:
        return {}
    return {name: name in flags for name in ("avx2", "avx512f", "avx512_bf16", "amx_bf16")}


def compute_dtype(device: str) -> str:
    """What the project trains in on this device: "bf16" or "fp32" (CPU), "bf16" or "fp16" (CUDA)."""
    import torch

    from trainers.models import pick_dtype

    return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(pick_dtype(device), "fp32")


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")),
                        platform.processor())
    except OSError:
        return platform.processor()


def machine() -> dict:
    import torch

    from trainers.models import pick_device

    device = pick_device()
    return {"cpu": cpu_name(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "device": device, "compute_dtype": compute_dtype(device), "cpu_flags": cpu_flags(),
            "python": sys.version.split()[0], "torch": torch.__version__}


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def matmul_peak_gflops(dtype_name: str = "bf16", size: int = 2048, repeats: int = 8, device: str = "cpu") -> float:
    """A square matmul's GFLOP/s in one dtype: the peak that MFU is measured against (in the dtype trained in)."""
    import torch

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(dtype_name, torch.float32)
    a, b = (torch.randn(size, size, dtype=dtype, device=device) for _ in range(2))
    a @ b
    _sync(device)
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _sync(device)
    return 2 * size**3 * repeats / (time.perf_counter() - started) / 1e9


def memory_bandwidth_gbs(device: str = "cpu", megabytes: int = 256, repeats: int = 5) -> float:
    """Copy bandwidth (bytes read + written per second): what bounds decoding, which reads every weight per step."""
    import torch

    src = torch.empty(megabytes * 2**20 // 4, dtype=torch.float32, device=device).uniform_()
    dst = torch.empty_like(src)
    dst.copy_(src)
    _sync(device)
    started = time.perf_counter()
    for _ in range(repeats):
        dst.copy_(src)
    _sync(device)
    return 2 * src.numel() * 4 * repeats / (time.perf_counter() - started) / 1e9


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
