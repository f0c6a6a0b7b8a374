"""How long a job will take on this machine, learned from the jobs this machine has finished.

    est = estimate_phases(phases)      # {"seconds": 80.0 or None, "phases": [...], "missing": [...], "calibrated_at"}
    describe(est)                      # "about 1 min 20 s on this machine, from a calibration of Dec 1 14:05"
    learn_from_job(job_id)             # after a job: its measured seconds -> the calibration, the job and its runs
    estimate_error(job)                # (estimated - measured) / measured, None until both are known

There is no separate calibration run: every finished phase is a measurement. The calibration, `$PLAYGROUND_HOME/
timing.json`, has one entry per base model, device, dtype and kind of work (`train-full`, `train-lora`,
`train-qlora`, Stage 4's `train-dpo-lora` and `train-grpo-lora`, `eval`, `answers`, `judge`, `export`): the
seconds one unit of work takes (a trained token, or a generated answer token: answers x max_new_tokens) and the fixed
cost around it (the worker's start, loading the model, saving), each the median of the last few phases, so one slow
run on a busy machine moves it little.
A phase is predicted as fixed cost + units x seconds per unit; a kind with no entry yet says so.
"""

import json
import math
import statistics
from datetime import datetime

from trainers import runs
from trainers.paths import home

KEEP = 5  # samples per entry; the median of these is the calibration
EVAL_FORWARD_SHARE = 1 / 3  # a held-out evaluation is a forward pass: about a third of a training step's work
RESUMABLE = ("interrupted", "failed", "cancelled")


def calibration_path():
    return home() / "timing.json"


def load_calibration() -> dict:
    try:
        return json.loads(calibration_path().read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def machine(device: str = "auto") -> tuple[str, str]:
    """(device, dtype name) that work runs in when nothing overrides them, as the model hub picks them."""
    import torch

    from trainers.models import pick_device, pick_dtype

    device = pick_device(device)
    return device, {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(pick_dtype(device), "fp32")


def work_key(base_model: str, device: str, dtype: str, work: str) -> str:
    return f"{base_model}|{device}|{dtype}|{work}"


# -- plans: the work a phase will do, in units the calibration prices --------------------------------------------

def plan_training(config, lengths: list[int] | None = None, n_rows: int | None = None, start_step: int = 0) -> dict:
    """{"key", "units"}: trained tokens of a run (steps x rows per step x mean row tokens, plus its held-out
    evaluations at a third of a token each). `lengths` / `n_rows` as trainers.estimate.row_token_lengths gives them."""
    from trainers.estimate import row_token_lengths

    if lengths is None or n_rows is None:
        lengths, n_rows = row_token_lengths(config)
    rows_per_step = config.per_device_train_batch_size * config.gradient_accumulation_steps
    # +1: the end-of-sequence token the SFT collator appends, which the trainer counts (a DPO pair's count has both
    # of its own already: trainers/stage4_dpo.trained_tokens)
    eos = 0 if config.stage == "stage4_dpo" else 1
    row_tokens = config.max_length if config.packing else (statistics.fmean(lengths) + eos if lengths else 0)
    trained_rows = max(n_rows - round(config.eval_fraction * n_rows), 1)
    steps = config.max_steps or math.ceil(math.ceil(trained_rows / rows_per_step) * config.num_train_epochs)
    units = max(steps - start_step, 0) * rows_per_step * row_tokens
    if config.eval_fraction:
        evaluations = max(steps - start_step, 0) // config.eval_steps + 1  # and one at the end
        units += evaluations * (n_rows - trained_rows) * row_tokens * EVAL_FORWARD_SHARE
    return {"key": training_key(config), "units": units, "steps": max(steps - start_step, 0),
            "tokens_per_step": rows_per_step * row_tokens}


def _train_phase_plan(spec: dict) -> dict:
    from trainers.config import build_config

    run_id, start_step = spec.get("run_id"), 0
    status = runs.read_run(run_id)["status"] if run_id else None
    config = build_config(runs.read_config(run_id) if run_id and not spec.get("config") else spec["config"])
    if status == "completed":
        return {"key": training_key(config), "units": 0, "done": True}
    if status in RESUMABLE:
        checkpoint = runs.latest_checkpoint(run_id)
        start_step = int(checkpoint.name.split("-")[-1]) if checkpoint else 0
    return plan_training(config, start_step=start_step)


def _answers_plan(base_model: str, work: str, answers: int, max_new_tokens: int) -> dict:
    device, dtype = machine()
    return {"key": work_key(base_model, device, dtype, work), "units": answers * max_new_tokens, "answers": answers}


def plan_phase(phase: dict, phases: list[dict]) -> dict:
    """{"key", "units", ...} of one phase of a job (`phases`: the whole job, for an evaluation of its trainings)."""
    from evalsuite.runner import planned_generations

    spec, kind = phase["spec"], phase["kind"]
    if kind == "train":
        return _train_phase_plan(spec)
    if kind == "eval":
        models = len(spec["models"]) if spec.get("models") else 1 + sum(p["kind"] == "train" for p in phases)
        answers = planned_generations(models, spec.get("limit"))  # at most: cached answers are not generated again
        return _answers_plan(spec.get("base_model", "embedded"), "eval", answers, int(spec.get("max_new_tokens", 64)))
    if kind == "answers":
        return _answers_plan(spec["base_model"], "answers", len(spec["models"]) * len(spec["prompts"]),
                             int(spec.get("max_new_tokens", 64)))
    if kind == "pairs":  # sampled answers to score: answers work, priced and learned by the same entry
        return _answers_plan(spec["base_model"], "answers", spec["n_prompts"] * spec["samples"],
                             int(spec.get("max_new_tokens", 64)))
    base = runs.read_run(spec["run_id"])["base_model"] if spec.get("run_id") else "-"
    return {"key": work_key(base, *machine(), kind), "units": 0}


# -- predictions ----------------------------------------------------------------------------------------------------

def predict(plan: dict, calibration: dict | None = None) -> float | None:
    if plan.get("done"):
        return 0.0
    entry = (load_calibration() if calibration is None else calibration).get(plan["key"])
    if not entry:
        return None
    return entry["overhead_s"] + plan["units"] * entry["rate_s"]


def estimate_phases(phases: list[dict]) -> dict:
    """The job's predicted seconds (None when some kind of work has no calibration yet), each phase's, the kinds
    missing and the date of the newest measurement used. A completed phase (a resumed job) costs nothing."""
    return estimate_plans([(p["name"], {"key": None, "units": 0, "done": True} if p.get("status") == "completed"
                            else plan_phase(p, phases)) for p in phases])


def estimate_plans(plans: list[tuple[str, dict]]) -> dict:
    """estimate_phases for plans already made: [(name, plan_training(...) or plan_phase(...)), ...]."""
    calibration = load_calibration()
    out, missing, dates = [], [], []
    for name, plan in plans:
        seconds = predict(plan, calibration)
        if seconds is None:
            missing += [plan["key"]] if plan["key"] not in missing else []
        elif plan["key"] in calibration:
            dates.append(calibration[plan["key"]]["updated_at"])
        out.append({"name": name, "seconds": None if seconds is None else round(seconds, 1), **plan})
    total = None if missing else round(sum(p["seconds"] for p in out), 1)
    return {"seconds": total, "phases": out, "missing": missing, "calibrated_at": max(dates) if dates else None}


def fmt_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    return f"{seconds // 3600} h {round(seconds % 3600 / 60):02d} min"


def local_time(iso: str) -> str:
    when = datetime.fromisoformat(iso).astimezone()
    return f"{when:%b} {when.day} {when:%H:%M}"


def describe(estimate: dict) -> str:
    """One line for the page: the prediction and where it comes from, or what has not been measured yet."""
    if estimate.get("error"):
        return f"no time estimate ({estimate['error']})"
    if estimate.get("pending"):
        return "time estimate on its way (the Jobs panel shows it)"
    if estimate["seconds"] is not None:
        about = f"about {fmt_seconds(estimate['seconds'])} on this machine"
        return about + (f", from a calibration of {local_time(estimate['calibrated_at'])}"
                        if estimate["calibrated_at"] else "")
    kinds = ", ".join(sorted({key.split("|")[-1] for key in estimate["missing"]}))
    return f"no calibration yet ({kinds} on this machine): the first run measures it"


def safe_estimate(phases: list[dict]) -> dict:
    """estimate_phases that never raises: a page or a job must not fail because its duration cannot be guessed
    (unreadable rows, a model not in the cache: what starting it will report properly)."""
    try:
        return estimate_phases(phases)
    except Exception as err:  # noqa: BLE001 (any failure means "no estimate", never a failed request)
        return {"seconds": None, "phases": [{"name": p["name"], "seconds": None, "key": None} for p in phases],
                "missing": [], "calibrated_at": None, "error": str(err).splitlines()[0][:160] if str(err) else
                err.__class__.__name__}


def relative_error(estimated: float | None, measured: float | None) -> float | None:
    if estimated is None or not measured:
        return None
    return round((estimated - measured) / measured, 4)


def estimate_error(job) -> float | None:
    """(estimated - measured) / measured of a finished job (a record or an id): +0.2 = predicted 20% too long."""
    from trainers import jobs

    record = jobs.read_job(job) if isinstance(job, str) else job
    return relative_error(record.get("estimated_s"), record.get("measured_s"))


def describe_job(job: dict) -> str:
    """describe() of the estimate a job was created with."""
    return describe({"seconds": job.get("estimated_s"), "missing": [], "calibrated_at": None,
                     **(job.get("estimate") or {})})


def describe_outcome(record: dict) -> str:
    """"took 42 s, estimated 50 s (+19%)" for a finished job or run; "" before it has a measurement."""
    measured, estimated = record.get("measured_s"), record.get("estimated_s")
    if measured is None:
        return ""
    if estimated is None:
        return f"took {fmt_seconds(measured)} (no estimate: nothing calibrated before it)"
    return (f"took {fmt_seconds(measured)}, estimated {fmt_seconds(estimated)} "
            f"({relative_error(estimated, measured):+.0%})")


# -- learning: every finished phase is a measurement ----------------------------------------------------------------

def training_key(config) -> str:
    from trainers.config import STAGE4
    from trainers.sft_core import use_bf16

    device, _ = machine(config.device)
    dtype = "bf16" if use_bf16(config, device) else "fp32"  # the autocast dtype is what sets the speed
    # a DPO token costs more than an SFT token of the same method (a reference forward, the LM head on every
    # position), so Stage 4 is calibrated on its own: train-dpo-lora beside train-lora
    stage = f"{config.stage.removeprefix('stage4_')}-" if config.stage in STAGE4 else ""
    return work_key(config.base_model, device, dtype, f"train-{stage}{config.method}")


def phase_key(phase: dict, phases: list[dict]) -> str:
    """The calibration entry a phase is priced by: the one its estimate used, else worked out again (cheaply: a
    training's key needs its config, not its rows)."""
    if phase.get("timing_key"):
        return phase["timing_key"]
    if phase["kind"] == "train":
        from trainers.config import build_config

        spec = phase["spec"]
        return training_key(build_config(spec.get("config") or runs.read_config(spec["run_id"])))
    return plan_phase(phase, phases)["key"]


def measured_sample(phase: dict) -> tuple[float, float] | None:
    """(seconds per unit, fixed seconds) a completed phase measured; None when it did no work to price (a run of
    several processes, an evaluation answered from the cache)."""
    wall, result = phase.get("measured_s"), phase.get("result") or {}
    if phase["kind"] == "train":
        run = runs.read_run(result["run_id"])
        if (run.get("world_size") or 1) > 1 or not run.get("tokens_trained") or run.get("train_s") is None:
            return None
        return run["train_s"] / run["tokens_trained"], wall - run["train_s"] - (run.get("eval_s") or 0.0)
    if phase["kind"] in ("eval", "answers", "pairs"):
        units = (result.get("generated") or 0) * int(phase["spec"].get("max_new_tokens", 64))
        if not units or result.get("generate_s") is None:
            return None
        return result["generate_s"] / units, wall - result["generate_s"]
    return 0.0, wall


def add_sample(calibration: dict, key: str, rate_s: float, overhead_s: float) -> None:
    entry = calibration.setdefault(key, {"samples": []})
    entry["samples"] = (entry["samples"] + [{"rate_s": rate_s, "overhead_s": max(overhead_s, 0.0),
                                             "at": runs.now_iso()}])[-KEEP:]
    entry["rate_s"] = statistics.median(s["rate_s"] for s in entry["samples"])
    entry["overhead_s"] = statistics.median(s["overhead_s"] for s in entry["samples"])
    entry["updated_at"] = entry["samples"][-1]["at"]


def learn_from_job(job_id: str) -> dict:
    """After a job's phases ran: each newly completed phase's measurement goes into the calibration, the job gets
    `measured_s` (its phases' running time, queueing excluded) and `estimate_error`, and each run it trained gets
    `estimated_s`, `measured_s` and `estimate_error` in run.json."""
    from trainers import jobs

    record = jobs.read_job(job_id)
    calibration, learned = load_calibration(), False
    for phase in record["phases"]:
        if phase["status"] != "completed" or phase.get("learned") or phase.get("measured_s") is None:
            continue
        sample = measured_sample(phase)
        if sample is not None:
            add_sample(calibration, phase_key(phase, record["phases"]), *sample)
            learned = True
        phase["learned"] = True
    if learned:
        runs.atomic_write(calibration_path(), json.dumps(calibration, indent=2))
    measured = [p["measured_s"] for p in record["phases"] if p.get("measured_s") is not None]
    record["measured_s"] = round(sum(measured), 2) if measured else None
    record["estimate_error"] = estimate_error(record)
    jobs.write_job(record)
    for phase in record["phases"]:
        run_id = (phase.get("result") or {}).get("run_id") if phase["kind"] == "train" else None
        if run_id and phase.get("measured_s") is not None:
            runs.update_run(run_id, estimated_s=phase.get("estimated_s"), measured_s=phase["measured_s"],
                            estimate_error=relative_error(phase.get("estimated_s"), phase["measured_s"]))
    return record
