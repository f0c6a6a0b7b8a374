"""Command line for the engine.

    python -m trainers train assets/configs/stage3_lora.yaml --set max_steps=5 --set base_model=tiny
    python -m trainers validate assets/datasets/stage1_sft.jsonl --format stage1
    python -m trainers train CONFIG --json        # JSON lines: {"run_id", "job_id", ...} first, the record last
    python -m trainers runs | jobs | models | resume RUN_ID
    python -m trainers pairs --run RUN_ID --prompts assets/datasets/grpo_prompts.jsonl --out pairs.jsonl

Under `torchrun --nproc_per_node N python -m trainers train ...` every rank trains one shared model (DDP) and
rank 0 alone writes the run. Exit code 1 and one line on stderr for anything the user can fix.
"""

import argparse
import os
import signal
import sys
import threading


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def _progress_bar(total: int):
    from tqdm import tqdm

    bar = tqdm(total=total, unit="step", disable=int(os.environ.get("RANK", "0")) != 0)

    def on_step(step: int, max_steps: int) -> None:
        bar.total = max_steps or total
        bar.update(step - bar.n)

    return bar, on_step


def _shared_ids(config) -> tuple[str, str]:
    """Under torchrun the ranks must agree on one run id and one job id: rank 0 picks them and broadcasts them."""
    from trainers import jobs, runs

    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    ids = [runs.new_run_id(config.stage, config.method, config.run_name), jobs.new_job_id("train")] \
        if runs.is_writer() else [None, None]
    if world_size > 1:
        import torch
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        dist.broadcast_object_list(ids, src=0)
    return ids[0], ids[1]


def _stop_on_ctrl_c() -> threading.Event:
    """First Ctrl-C: stop at the next step and save what was trained. A second one aborts (the run is `failed`)."""
    stop = threading.Event()

    def handler(*_):
        stop.set()
        print("\nstopping at the next step and saving; Ctrl-C again to abort", file=sys.stderr, flush=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGINT, handler)
    return stop


def _print_json(**fields) -> None:
    import json

    print(json.dumps(fields), flush=True)


def cmd_train(args) -> int:
    from trainers import jobs, runs
    from trainers.config import load_config, parse_overrides, to_dict
    from trainers.training import create_training_run

    from trainers.owners import EXAMPLE

    config = load_config(args.config, parse_overrides(args.set))
    jobs.mark_dead_jobs()
    run_id, job_id = _shared_ids(config)
    if runs.is_writer():
        create_training_run(config, run_id, owner=EXAMPLE if args.example else "cli")
        jobs.create_job("train", [jobs.phase(f"train {config.stage}/{config.method}", "train",
                                             config=to_dict(config), run_id=run_id)],
                        owner="cli", title=f"train {run_id}", run_ids=[run_id], job_id=job_id)
        if args.json:
            _print_json(run_id=run_id, job_id=job_id, run_dir=str(runs.run_path(run_id)))
        else:
            print(f"run {run_id}: {runs.run_path(run_id)}", flush=True)
    return _supervise_and_report(job_id, config.max_steps, args.json)


def _supervise_and_report(job_id: str, max_steps: int, as_json: bool) -> int:
    """Run the job's phases in this process (the same code a worker runs), with a progress bar and Ctrl-C."""
    from trainers import jobs, runs
    from trainers.job_queue import supervise

    stop = _stop_on_ctrl_c()
    bar, on_step = _progress_bar(max_steps)
    with jobs.ProgressFollower(job_id, lambda done, total, unit: unit == "step" and on_step(int(done), int(total))):
        job = supervise(job_id, local_stop=stop, in_process=True) if runs.is_writer() else _rank_phase(job_id, stop)
    bar.close()
    if not runs.is_writer():
        return 0
    run_id = (job.get("run_ids") or [None])[-1]
    record = runs.read_run(run_id) if run_id else {"id": None, "status": job["status"], "error": job["error"]}
    if as_json:
        _print_json(job_id=job_id, **{k: record.get(k) for k in runs.RUN_KEYS}, run_id=run_id,
                    job_status=job["status"])
        return 1 if record["status"] == "failed" else 0
    return _report(record)


def _rank_phase(job_id: str, stop) -> dict:
    """Under torchrun the other ranks train the same phase; rank 0 alone records it."""
    import time

    from trainers import jobs
    from trainers.worker import run_phase

    deadline = time.time() + 120
    while not (jobs.job_path(job_id) / "job.json").exists() and time.time() < deadline:
        time.sleep(0.1)  # rank 0 writes the record after the ids were broadcast
    run_phase(job_id, 0, stop)
    return {}


def _report(record: dict) -> int:
    from trainers import runs

    if not runs.is_writer():
        return 0
    if record["status"] == "failed":
        return _fail(f"run {record['id']} failed: {record['error']}")
    if not record.get("total_params"):
        return _fail(f"run {record['id']} {record['status']}: {record.get('error') or 'nothing was trained'}")
    share = 100 * record["trainable_params"] / max(record["total_params"], 1)
    loss = "-" if record.get("final_loss") is None else f"{record['final_loss']:.4f}"
    print(f"{record['status']}: final loss {loss} (mean of the last 5 logged steps), "
          f"{record['tokens_per_second'] or 0:.0f} tokens/s, peak {record['peak_memory_mb']:.0f} MB, "
          f"trainable {record['trainable_params']:,} of {record['total_params']:,} ({share:.2f}%)\n"
          f"artifact: {record['artifact_dir']}")
    return 0


def cmd_resume(args) -> int:
    from trainers import jobs, runs
    from trainers.config import build_config
    from trainers.training import resume_plan

    jobs.mark_dead_jobs()  # a run left `running` by a crash becomes resumable
    record = runs.read_run(args.run_id)
    if record["status"] not in ("interrupted", "failed", "cancelled"):
        raise ValueError(f"run {args.run_id} is {record['status']}; only interrupted, failed or cancelled runs resume")
    print(resume_plan(args.run_id), flush=True)
    job = jobs.create_job("train", [jobs.phase(f"resume {args.run_id}", "train", run_id=args.run_id)],
                          owner="cli", title=f"resume {args.run_id}", run_ids=[args.run_id])
    return _supervise_and_report(job["id"], build_config(runs.read_config(args.run_id)).max_steps, args.json)


def cmd_jobs(args) -> int:
    from trainers import jobs

    jobs.mark_dead_jobs()
    records = jobs.list_jobs()
    if args.json:
        for record in records:
            _print_json(**{k: record.get(k) for k in jobs.JOB_KEYS})
        return 0
    if not records:
        print("no jobs yet")
    for r in records:
        p = r.get("progress") or {}
        done = f"{p.get('done') or 0:g}/{p['total']:g} {p.get('unit', '')}" if p.get("total") else ""
        eta = f"ETA {r['eta_s']:.0f}s" if r.get("status") == "running" and r.get("eta_s") is not None else ""
        print(f"{r['id']:36} {r['status']:11} {r['kind']:9} {p.get('phase', ''):16} {done:18} {eta:10} "
              f"{' '.join(r.get('run_ids') or [])}")
    return 0


def cmd_validate(args) -> int:
    from trainers.validate import check_dataset_file

    problems = check_dataset_file(args.file, args.format, args.model, args.max_length)
    for problem in problems:
        print(("warning: " if problem.level == "warning" else "") + str(problem))
    errors = sum(p.level == "error" for p in problems)
    print(f"{args.file}: {errors} error(s), {len(problems) - errors} warning(s)", file=sys.stderr)
    return 1 if errors else 0


def cmd_pairs(args) -> int:
    """Preference pairs from a run's own sampled answers, judged by the suite's checkers (trainers/pairs.py): a
    foreground job, the same `pairs` phase the app's Data tab queues."""
    from tqdm import tqdm

    from trainers import jobs
    from trainers.job_queue import supervise
    from trainers.submit import pairs_phase

    jobs.mark_dead_jobs()
    phase = pairs_phase(args.run, args.prompts, args.samples, args.temperature, args.max_new_tokens, out=args.out,
                        pairs_per_prompt=args.pairs_per_prompt, limit=args.limit, base_model=args.base_model,
                        owner="cli")
    job = jobs.create_job("pairs", [phase], owner="cli", title=f"pairs from {args.run} -> {args.out}")
    print(f"job {job['id']}: {phase['spec']['n_prompts']} prompts x {args.samples} answers", flush=True)
    stop = _stop_on_ctrl_c()
    bar = tqdm(total=phase["spec"]["n_prompts"] * args.samples, unit="answer")
    with jobs.ProgressFollower(job["id"], lambda done, total, unit: bar.update(int(done) - bar.n)):
        job = supervise(job["id"], local_stop=stop, in_process=True)
    bar.close()
    if job["status"] != "completed":
        return _fail(job["phases"][0]["error"] or job["error"])
    stats = job["result"]["stats"]
    print(f"{stats['pairs']} pairs from {stats['prompts']} prompts x {args.samples} answers "
          f"({stats['passed']} distinct answers passed, {stats['failed']} failed; {stats['all_pass']} prompts all "
          f"passed, {stats['all_fail']} all failed, {stats['skipped_code']} code prompts skipped) -> {args.out}")
    return 0


def cmd_runs(args) -> int:
    from trainers import runs

    from trainers import jobs

    jobs.mark_dead_jobs()
    records = runs.list_runs()
    if not records:
        print("no runs yet")
    for r in records:
        loss = f"{r['final_loss']:.4f}" if r.get("final_loss") is not None else "-"
        print(f"{r['id']:48} {r['status']:11} {r['stage']}/{r['method']:6} loss {loss:>8}  {r['base_model']}")
    return 0


def cmd_models(args) -> int:
    from trainers.models import REGISTRY

    for info in REGISTRY.values():
        print(f"{info.name:20} {info.description}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from trainers.data import FORMATS

    parser = argparse.ArgumentParser(prog="python -m trainers", description="LLM post-training playground engine")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train one stage from a config file")
    train.add_argument("config", help="a YAML file, e.g. assets/configs/stage3_lora.yaml")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field")
    train.add_argument("--json", action="store_true", help="print {run_id, job_id, ...} JSON lines instead of text")
    train.add_argument("--example", action="store_true",
                       help="a shared read-only example: every workspace of a public app sees it and may use it")
    train.set_defaults(func=cmd_train)
    resume = sub.add_parser("resume", help="continue an interrupted run from its last checkpoint")
    resume.add_argument("run_id")
    resume.add_argument("--json", action="store_true", help="print the final record as a JSON line")
    resume.set_defaults(func=cmd_resume)
    validate = sub.add_parser("validate", help="check a dataset file; exit 1 if any row is invalid")
    validate.add_argument("file")
    validate.add_argument("--format", required=True, choices=list(FORMATS))
    validate.add_argument("--max-length", type=int, default=None,
                          help="reject rows longer than this many tokens once rendered as the stage trains them "
                               "(default: train's default max_length, 256; 0: no length check)")
    validate.add_argument("--model", default="embedded", help="tokenizer the length is measured with")
    validate.set_defaults(func=cmd_validate)
    pairs = sub.add_parser("pairs", help="preference pairs from a run's own answers, judged by the suite's checkers")
    pairs.add_argument("--run", required=True, help="a run id, or 'base' (with --base-model)")
    pairs.add_argument("--prompts", required=True, help="{prompt, check} rows (grpo_prompts.jsonl)")
    pairs.add_argument("--out", required=True, help="JSONL file of {prompt, chosen, rejected} rows")
    pairs.add_argument("--samples", type=int, default=4, help="answers sampled per prompt")
    pairs.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (> 0)")
    pairs.add_argument("--max-new-tokens", type=int, default=64)
    pairs.add_argument("--pairs-per-prompt", type=int, default=1)
    pairs.add_argument("--limit", type=int, default=0, help="use only the first N prompts")
    pairs.add_argument("--base-model", default=None, help="the base for --run base (default: the run's own)")
    pairs.set_defaults(func=cmd_pairs)
    sub.add_parser("runs", help="list runs").set_defaults(func=cmd_runs)
    jobs_cmd = sub.add_parser("jobs", help="list jobs (training, evaluation, reproduce, export) with their progress")
    jobs_cmd.add_argument("--json", action="store_true", help="one JSON object per job")
    jobs_cmd.set_defaults(func=cmd_jobs)
    sub.add_parser("models", help="list registered base models").set_defaults(func=cmd_models)
    return parser


def main(argv: list[str] | None = None) -> int:
    from trainers.quiet import quiet_libraries

    args = build_parser().parse_args(argv)
    quiet_libraries()
    try:
        return args.func(args)
    except (ValueError, OSError, RuntimeError, KeyError, TypeError) as err:
        return _fail(str(err).strip())
