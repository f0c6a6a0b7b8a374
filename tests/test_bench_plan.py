"""The benchmark's machine description and dtype choice, including the CUDA path planned on this CPU machine (the
GPU run happens on a GPU box; this keeps its code from growing CPU-only assumptions)."""

import pytest
import torch

from bench import common


def test_machine_line_names_the_cpu_flags_and_the_dtype_trained_in():
    line = common.machine()
    assert line["device"] == "cpu" and line["compute_dtype"] in ("bf16", "fp32")
    flags = open("/proc/cpuinfo").read().split()
    assert line["cpu_flags"]["avx512_bf16"] == ("avx512_bf16" in flags)
    # bf16 is chosen exactly where the CPU has it natively: elsewhere it is emulated, ~300x slower than fp32
    native = "avx512_bf16" in flags or "amx_bf16" in flags
    assert line["compute_dtype"] == ("bf16" if native else "fp32")


def test_the_cuda_run_plans_bf16_or_fp16_without_reading_cpu_details(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *_: "Test GPU")
    real_open = open

    def no_cpuinfo(path, *args, **kwargs):
        if str(path) == "/proc/cpuinfo":
            raise FileNotFoundError(path)  # as on a machine without it
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", no_cpuinfo)
    for bf16_ok, expected in ((True, "bf16"), (False, "fp16")):
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *_, ok=bf16_ok: ok)
        assert common.compute_dtype("cuda") == expected
    line = common.machine()
    assert (line["device"], line["cuda"], line["compute_dtype"], line["cpu_flags"]) == ("cuda", "Test GPU", "fp16", {})


def test_peak_and_bandwidth_measure_on_the_given_device():
    assert common.matmul_peak_gflops("fp32", size=256, repeats=2, device="cpu") > 0
    assert common.memory_bandwidth_gbs("cpu", megabytes=8, repeats=2) > 0


def test_the_lesson_bench_reports_how_far_the_lesson_tabs_estimate_was(monkeypatch, capsys, playground_home):
    """lesson_estimate_error compares the time the job was priced at before it started with lesson_s; the job itself
    is faked here (the bench runs it for real)."""
    import json
    import time

    from bench.lesson import bench_lesson
    from trainers import jobs, runs, timing

    device, dtype = timing.machine()
    kinds = {"train-full": 1e-3, "train-lora": 1e-3, "eval": 1e-3, "judge": 0.0}
    (playground_home / "timing.json").write_text(json.dumps({
        timing.work_key("-" if kind == "judge" else "tiny", device, dtype, kind):
            {"rate_s": rate, "overhead_s": 2.0, "updated_at": "2026-12-01T13:05:00+00:00", "samples": []}
        for kind, rate in kinds.items()}))

    def fake_supervise(job_id, *args, **kwargs):
        time.sleep(0.2)
        return jobs.update_job(job_id, status="completed", ended_at=runs.now_iso())

    monkeypatch.setattr("trainers.job_queue.supervise", fake_supervise)
    bench_lesson("tiny")
    lines = {row["name"]: row for row in map(json.loads, capsys.readouterr().out.splitlines())}
    seconds, row = lines["lesson_s"]["value"], lines["lesson_estimate_error"]
    assert row["estimated_s"] > 5 * 2.0 and row["missing"] is None  # five phases' fixed cost, and their work
    assert row["value"] == pytest.approx((row["estimated_s"] - seconds) / seconds, rel=1e-3)
