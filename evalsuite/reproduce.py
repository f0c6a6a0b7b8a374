"""Reproduce the seed's claims: train every stage on the starter data, evaluate all of them and the base, and
state for each claim in the seed's "Expected Behavior" lists and its efficiency table the measured evidence and
whether it held.

    python -m evalsuite reproduce --out outputs/reproduce          # embedded model, CPU, short presets
    python -m evalsuite reproduce --resume JOB_ID                  # continue; finished phases are not redone

It is one job (trainers/jobs.py) of seven phases: train stage 1, stage 2, LoRA, QLoRA, DPO (Stage 4, on this job's
Stage 2 run), evaluate, judge. Each phase runs in its own worker process, so each run's peak memory is its own; the
app queues the same job. A claim that does not hold is reported as not holding, with the numbers.
"""

import json
from pathlib import Path

from trainers import jobs, runs
from trainers.config import load_config, to_dict
from trainers.paths import CONFIGS

REPRODUCE_STAGES = {  # phase label -> (stage config, overrides on top of the short preset)
    "stage1": ("stage1_sft.yaml", {}),
    "stage2": ("stage2_instruction.yaml", {}),
    "lora": ("stage3_lora.yaml", {}),
    "qlora": ("stage3_qlora.yaml", {}),
    # Stage 4, on this job's Stage 2 run (STARTS_FROM). A DPO step of 8 pairs trains 16 sequences of ~66 tokens with a
    # reference pass and the LM head on every position: ~23 s on the embedded model on a 2-core CPU against ~2.2 s for
    # a Stage 2 step (measured side by side), so 4 steps (~95 s) cost no more than Stage 2's 40 (~95 s + its save).
    # The longest starter pair side is 132 tokens once rendered, hence max_length 160.
    "dpo": ("stage4_dpo.yaml", {"max_steps": 4, "max_length": 160}),
}
STARTS_FROM = {"dpo": "stage2"}  # phase label -> the label of the earlier phase whose run it trains on top of
PRESET = {"max_steps": 40, "save_steps": 0, "max_length": 128}
# Suite queries, spread over the categories (evalsuite.suite.select_queries): every query of the small categories
# (reasoning, creative, code) and 25 each of factual, instruction following and paraphrase, the categories the
# headline claims compare. 25 paired queries gave smallest detectable differences of 0.10-0.22 on the embedded
# model (README, "The seed's claims, measured"); 6 per category (the old 36) gives about twice that (sqrt(25 / 6)).
DEFAULT_LIMIT = 100


def stage_config(name: str, base_model: str, steps: int = 0, preset: dict | None = None,
                 label: str = "reproduce") -> dict:
    config_file, extra = REPRODUCE_STAGES[name]
    overrides = {**(PRESET if preset is None else preset), **extra, "base_model": base_model,
                 "run_name": f"{label}-{name}"}
    if steps:
        overrides["max_steps"] = steps
    return to_dict(load_config(CONFIGS / config_file, overrides))


def reproduce_phases(out_dir, base_model: str = "embedded", steps: int = 0, limit: int | None = DEFAULT_LIMIT,
                     max_new_tokens: int = 40, stages=tuple(REPRODUCE_STAGES), preset: dict | None = None,
                     label: str = "reproduce") -> list[dict]:
    """The job's phases. Every config is resolved now, so a bad preset is refused before anything is queued.
    The Lesson tab's class preset is the same job on fewer stages with a shorter preset."""
    out = Path(out_dir)
    phases = []
    for index, name in enumerate(stages):
        start = STARTS_FROM.get(name)
        if start and start not in stages[:index]:
            raise ValueError(f"{name} trains on top of the {start} run: {start} must come before it")
        phases.append(jobs.phase(f"train {name}", "train", config=stage_config(name, base_model, steps, preset, label),
                                 label=name, **({"init_from_phase": start} if start else {})))
    phases.append(jobs.phase("evaluate", "eval", models=None, out_dir=str(out / "eval"), base_model=base_model,
                             limit=limit, max_new_tokens=max_new_tokens))
    phases.append(jobs.phase("judge", "judge", out_dir=str(out)))
    return phases


def submit_reproduce(out_dir, base_model: str = "embedded", steps: int = 0, limit: int | None = DEFAULT_LIMIT,
                     max_new_tokens: int = 40, owner: str = "local", queue=None) -> dict:
    from trainers.job_queue import QUEUE

    Path(out_dir).mkdir(parents=True, exist_ok=True)
    from trainers.submit import check_phases

    phases = reproduce_phases(out_dir, base_model, steps, limit, max_new_tokens)
    check_phases(phases)
    return (queue or QUEUE).submit("reproduce", phases, owner=owner, title=f"reproduce the seed on {base_model}")


def describe_phases(phases: list[dict]) -> str:
    """"7 phases (5 trainings: stage1, stage2, lora, qlora, dpo; evaluate, judge)", from the phases themselves."""
    trainings = [p["spec"].get("label") or p["name"] for p in phases if p["kind"] == "train"]
    rest = [p["name"] for p in phases if p["kind"] != "train"]
    return f"{len(phases)} phases ({len(trainings)} trainings: {', '.join(trainings)}; {', '.join(rest)})"


def trained_run_ids(record: dict) -> dict[str, str]:
    """{stage label: run id} of the job's finished training phases."""
    from trainers.phases import finished_trainings

    return dict(finished_trainings(record))


def judge(spec: dict, ctx) -> dict:
    """The judge phase: read the runs and the evaluation the earlier phases left, write claims.json / .html."""
    from evalsuite.claims import judge_claims, render_claims_html

    record = jobs.read_job(ctx.job_id)
    run_ids = trained_run_ids(record)
    evaluation = next(p for p in record["phases"] if p["kind"] == "eval")
    report = json.loads(Path(evaluation["result"]["report"]).read_text())
    records = {name: runs.read_run(rid) for name, rid in run_ids.items()}
    metrics = {name: runs.read_metrics(rid) for name, rid in run_ids.items()}
    sizes = {name: runs.artifact_size_mb(rid) for name, rid in run_ids.items()}
    claims = judge_claims(report, run_ids, records, metrics, sizes)
    out = Path(spec["out_dir"])
    result = {"run_ids": run_ids, "claims": claims["claims"], "efficiency": claims["efficiency"],
              "seconds": runs.duration_s({"started_at": record["started_at"], "ended_at": runs.now_iso()}),
              "report_path": str(out / "claims.html"), "eval_report": str(out / "eval" / "report.html")}
    (out / "claims.json").write_text(json.dumps(result, indent=2))
    (out / "claims.html").write_text(render_claims_html(result))
    return {"claims": str(out / "claims.json"), "report_path": result["report_path"],
            "eval_report": result["eval_report"], "run_ids": run_ids}
