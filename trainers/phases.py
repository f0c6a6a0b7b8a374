"""The phase functions a job is made of. Each takes (spec, ctx) and returns the phase's result (a small dict); it
raises `Cancelled` when ctx says stop, any other exception when it fails. They run in a worker process
(trainers/worker.py) or, for the CLI, in the foreground.

    train   {config, run_id?, label?, init_from_phase?}
                                           one training run (created here when no run_id is given); init_from_phase
                                           names the label of an earlier train phase of the job whose run it starts
                                           from (its config's init_from, known only once that phase has run)
    eval    {models, out_dir, ...}         the evaluation suite -> report.json / .csv / .html
    judge   {out_dir, base_model}          reproduce's last step: the seed's claims against the measurements
    export  {run_id}                       merge a LoRA adapter into its base
    answers {models, prompts, ...}         a large grid of answers (the paraphrase test) through answer_grid
    pairs   {target, prompts, save_as|out}  preference pairs from a model's own sampled answers -> a saved dataset
"""

import time

from trainers import runs
from trainers.jobs import Cancelled, JobContext


class PhaseFailed(RuntimeError):
    """The phase ended without its result; the message says why in one sentence."""


def run_train(spec: dict, ctx: JobContext) -> dict:
    """Train `spec["config"]` into `spec["run_id"]` (created here when absent). What happens to an existing run
    follows its status: queued trains, interrupted / failed / cancelled resumes from its last checkpoint, completed
    is already done (a job resumed after the worker died between the run's end and the phase's)."""
    from trainers.config import build_config
    from trainers.training import create_training_run, execute, prepare_resume

    run_id, checkpoint = spec.get("run_id"), None
    if not runs.is_writer():  # torchrun: rank 0 decides and records; the other ranks train the same run with it
        checkpoint = runs.latest_checkpoint(run_id)
        execute(build_config(runs.read_config(run_id)), run_id, ctx, str(checkpoint) if checkpoint else None,
                ctx.on_step)
        return {"run_id": run_id}
    status = runs.read_run(run_id)["status"] if run_id else None
    if status == "completed":
        return _train_result(runs.read_run(run_id))
    if status in ("interrupted", "failed", "cancelled"):
        config, checkpoint = prepare_resume(run_id)
        print(f"resuming {run_id} from " + (checkpoint or "step 0: no checkpoint was saved"), flush=True)
    elif status == "queued":
        config = build_config(runs.read_config(run_id))
    elif status is None:
        from trainers.jobs import read_job

        config = build_config(_resolved_config(spec, ctx))
        run_id = create_training_run(config, owner=read_job(ctx.job_id).get("owner") or "local")
    else:
        raise PhaseFailed(f"run {run_id} is {status} in another process")
    ctx.add_run(run_id)
    record = execute(config, run_id, ctx, checkpoint, ctx.on_step)
    if record["status"] == "failed":
        raise PhaseFailed(f"run {run_id} failed: {record.get('error')}")
    if record["status"] == "cancelled":
        raise Cancelled(f"run {run_id} cancelled; what it trained is saved")
    return _train_result(record)


def _train_result(record: dict) -> dict:
    return {"run_id": record["id"], "status": record["status"], "final_loss": record.get("final_loss")}


def run_eval(spec: dict, ctx: JobContext) -> dict:
    from evalsuite.runner import planned_generations, run_eval
    from trainers.generate import BATCH_ROWS

    models = spec.get("models") or ["base", *_trained_runs(ctx)]
    total = planned_generations(len(models), spec.get("limit"))
    ctx.progress(0, total, "answers", force=True)
    report = run_eval(models, spec["out_dir"], base_model=spec.get("base_model", "embedded"),
                      limit=spec.get("limit"), include_code=bool(spec.get("include_code")),
                      max_new_tokens=int(spec.get("max_new_tokens", 64)),
                      batch_size=int(spec.get("batch_size", BATCH_ROWS)),
                      progress=lambda n: ctx.advance(n, total, "answers"))
    ctx.progress(total, total, "answers", force=True)  # answers from the cache never reported progress
    meta = report.get("meta", {})
    return {"report": f"{spec['out_dir']}/report.json", "out_dir": spec["out_dir"], "queries": meta.get("queries"),
            "generated": meta.get("generated"), "cached": meta.get("cached"), "seconds": meta.get("seconds"),
            "generate_s": meta.get("generate_s")}


def finished_trainings(record: dict) -> list[tuple[str | None, str]]:
    """(label, run id) of each training phase of the job record that finished, in phase order."""
    return [(p["spec"].get("label"), p["result"]["run_id"]) for p in record["phases"]
            if p["kind"] == "train" and p["status"] == "completed" and p.get("result")]


def _trained_runs(ctx: JobContext) -> list[str]:
    """The runs the job's earlier training phases finished: what an evaluation without a model list evaluates."""
    from trainers.jobs import read_job

    return [run_id for _, run_id in finished_trainings(read_job(ctx.job_id))]


def _resolved_config(spec: dict, ctx: JobContext) -> dict:
    """The phase's config, with `init_from` set to the run of the phase `init_from_phase` names. A job is written
    before anything in it runs, so a training that goes on from an earlier one of the same job (reproduce's DPO on its
    Stage 2 run) can only name that phase; the run id is looked up here, when the phase starts."""
    label = spec.get("init_from_phase")
    if not label:
        return spec["config"]
    from trainers.jobs import read_job

    run_id = dict(finished_trainings(read_job(ctx.job_id))).get(label)
    if run_id is None:
        raise PhaseFailed(f"init_from_phase: no finished training phase labelled '{label}' in this job")
    return {**spec["config"], "init_from": run_id}


def run_judge(spec: dict, ctx: JobContext) -> dict:
    from evalsuite.reproduce import judge

    return judge(spec, ctx)


def run_export(spec: dict, ctx: JobContext) -> dict:
    from trainers.export import merge_adapter

    ctx.progress(0, 1, "model", force=True)
    folder = merge_adapter(spec["run_id"])
    ctx.progress(1, 1, "model", force=True)
    return {"run_id": spec["run_id"], "folder": str(folder)}


def run_answers(spec: dict, ctx: JobContext) -> dict:
    """Every model's answer to every prompt, through the same `answer_grid` the app uses inline for small grids."""
    from trainers.adapters import ModelHub
    from trainers.generate import answer_grid

    total = len(spec["models"]) * len(spec["prompts"])
    ctx.progress(0, total, "answers", force=True)
    hub = ModelHub(spec["base_model"])
    hub.ensure_base()
    started = time.perf_counter()
    answers = answer_grid(hub, spec["models"], spec["prompts"], int(spec.get("max_new_tokens", 64)),
                          progress=lambda n: ctx.advance(n, total, "answers"))
    return {"answers": answers, "generated": total, "generate_s": round(time.perf_counter() - started, 3)}


PREVIEW_PAIRS = 5  # pairs kept in the result for the Data tab to show; the rest are in the saved file


def run_pairs(spec: dict, ctx: JobContext) -> dict:
    """Sample `samples` answers per prompt from `target`, keep (passing, failing) pairs (trainers/pairs.py), and save
    them: as the workspace's dataset `save_as` (what the Train tab lists), or to the file `out` (the CLI). Both writes
    are atomic, and nothing is written when there are no pairs: the phase fails with what to change."""
    from trainers.jobs import read_job
    from trainers.pairs import build_preference_pairs, hub_for, load_prompt_rows, no_pairs_reason, usable_rows, \
        write_pairs

    rows = load_prompt_rows(spec["prompts"])[: spec.get("limit") or None]
    samples = int(spec["samples"])
    total = len(usable_rows(rows)) * samples
    ctx.progress(0, total, "answers", force=True)
    hub = hub_for(spec["target"], spec["base_model"])
    hub.ensure_base()  # loading the model is the phase's fixed cost, not answer time
    started = time.perf_counter()
    pairs, stats = build_preference_pairs(hub, spec["target"], rows, samples, float(spec["temperature"]),
                                          int(spec["max_new_tokens"]), int(spec.get("pairs_per_prompt", 1)),
                                          progress=lambda n: ctx.advance(n, total, "answers"))
    generate_s = round(time.perf_counter() - started, 3)
    ctx.progress(total, total, "answers", force=True)
    if not pairs:
        raise PhaseFailed(no_pairs_reason(stats))
    if spec.get("out"):
        path = write_pairs(pairs, spec["out"])
    else:
        from trainers.data import save_rows
        from trainers.names import saved_folder

        owner = read_job(ctx.job_id).get("owner") or "local"
        path = save_rows(pairs, "preference", spec["save_as"], folder=saved_folder(owner))
    return {"dataset": spec.get("save_as"), "path": str(path), "stats": stats, "preview": pairs[:PREVIEW_PAIRS],
            "target": spec["target"], "generated": stats["answers"], "generate_s": generate_s}


PHASES = {"train": run_train, "eval": run_eval, "judge": run_judge, "export": run_export, "answers": run_answers,
          "pairs": run_pairs}
