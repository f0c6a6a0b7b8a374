"""python -m evalsuite run [--base] [--runs ID ...] [--limit N] [--run-code] --out DIR
python -m evalsuite reproduce [--out DIR] [--steps N] [--resume JOB_ID]
python -m evalsuite validate [PATH]"""

import argparse
import json
import sys
from pathlib import Path

from evalsuite.reproduce import DEFAULT_LIMIT
from trainers.generate import BATCH_ROWS


def cmd_run(args) -> int:
    """The evaluation as a job run in this process: the same phase a worker runs for the app."""
    from tqdm import tqdm

    from trainers import jobs
    from trainers.adapters import BASE
    from trainers.job_queue import supervise

    models = ([BASE] if args.base else []) + list(args.runs or [])
    if not models:
        print("error: nothing to evaluate; pass --base and/or --runs ID ...", file=sys.stderr)
        return 1
    phase = jobs.phase("evaluate", "eval", models=models, out_dir=str(Path(args.out).resolve()),
                       base_model=args.base_model, limit=args.limit, include_code=args.run_code,
                       max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    job = jobs.create_job("eval", [phase], owner="cli", title=f"evaluate {', '.join(models)}")
    bar = tqdm(unit="gen")

    def draw(done, total, unit):
        bar.total = total
        bar.update(done - bar.n)

    with jobs.ProgressFollower(job["id"], draw):
        record = supervise(job["id"], local_stop=_stop_on_ctrl_c(), in_process=True)
    bar.close()
    if record["status"] != "completed":
        print(f"error: evaluation {record['status']}: {record['error']}", file=sys.stderr)
        return 1
    from evalsuite.report import interval_text

    report = json.loads(Path(record["result"]["report"]).read_text())
    for model, cats in report["summary"].items():  # each score with its 95% interval and counts
        print(f"{model}:\n" + "\n".join(f"  {c}: {interval_text(v)}" for c, v in cats.items()))
    print(f"report: {args.out}/report.html ({report['meta']['generated']} generated, "
          f"{report['meta']['cached']} from cache, {report['meta']['seconds']} s)")
    return 0


def cmd_reproduce(args) -> int:
    from evalsuite.reproduce import reproduce_phases
    from trainers import jobs
    from trainers.job_queue import supervise

    jobs.mark_dead_jobs()
    if args.resume:
        record = jobs.read_job(args.resume)
        if record["kind"] != "reproduce" or record["status"] not in ("interrupted", "failed", "cancelled"):
            print(f"error: job {args.resume} is a {record['kind']} job, {record['status']}; only an interrupted, "
                  "failed or cancelled reproduce job resumes", file=sys.stderr)
            return 1
        (jobs.job_path(args.resume) / "cancel").unlink(missing_ok=True)
        job_id = args.resume
    else:
        phases = reproduce_phases(args.out, args.base_model, args.steps, args.limit or None, args.max_new_tokens)
        job_id = jobs.create_job("reproduce", phases, owner="cli", title=f"reproduce on {args.base_model}")["id"]
    print(f"job {job_id}: {jobs.job_path(job_id)} (resume with --resume {job_id})", flush=True)

    def on_phase(index, phase):
        print(f"[{index + 1}/{len(jobs.read_job(job_id)['phases'])}] {phase['name']}", flush=True)

    record = supervise(job_id, local_stop=_stop_on_ctrl_c(), on_phase=on_phase)
    if record["status"] != "completed":
        print(f"error: reproduce {record['status']}: {record['error']}", file=sys.stderr)
        return 1
    print(f"report: {record['result']['report_path']} ({_job_seconds(record):.0f} s)")
    return 0  # a claim that did not hold is a finding, not a failure of the command


def _job_seconds(record: dict) -> float:
    from trainers.runs import duration_s

    return duration_s(record) or 0.0


def _stop_on_ctrl_c():
    """Ctrl-C asks the running phase to stop (a training saves what it trained); the job can be resumed."""
    import signal
    import threading

    stop = threading.Event()

    def handler(*_):
        stop.set()
        print("\nstopping the current phase; resume later with --resume", file=sys.stderr, flush=True)

    signal.signal(signal.SIGINT, handler)
    return stop


def cmd_validate(args) -> int:
    from evalsuite.suite import SUITE_PATH, read_rows, validate_suite

    problems = validate_suite(read_rows(args.path or SUITE_PATH))
    for p in problems:
        print(p)
    return 1 if problems else 0


def main(argv=None) -> int:
    from trainers.quiet import quiet_libraries

    parser = argparse.ArgumentParser(prog="python -m evalsuite")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="evaluate the base and/or runs on the suite")
    run.add_argument("--base", action="store_true", help="include the base model")
    run.add_argument("--runs", nargs="*", help="run ids to evaluate")
    run.add_argument("--limit", type=int, help="about N queries, spread over the categories")
    run.add_argument("--out", required=True, help="folder for report.json, report.csv, report.html")
    run.add_argument("--run-code", action="store_true", help="execute code answers in the sandbox (see sandbox.py)")
    run.add_argument("--base-model", default="embedded")
    run.add_argument("--max-new-tokens", type=int, default=64)
    run.add_argument("--batch-size", type=int, default=BATCH_ROWS)
    run.set_defaults(func=cmd_run)
    rep = sub.add_parser("reproduce", help="train every stage on the starter data and check the seed's claims")
    rep.add_argument("--out", default="outputs/reproduce")
    rep.add_argument("--steps", type=int, default=0, help="override the preset's steps (0 = the reproduce preset)")
    rep.add_argument("--base-model", default="embedded")
    rep.add_argument("--limit", type=int, default=DEFAULT_LIMIT,
                     help=f"about N suite queries, spread over categories (0 = all; default {DEFAULT_LIMIT})")
    rep.add_argument("--max-new-tokens", type=int, default=40)
    rep.add_argument("--resume", metavar="JOB_ID", help="continue an interrupted reproduce job")
    rep.set_defaults(func=cmd_reproduce)
    val = sub.add_parser("validate", help="check the suite file")
    val.add_argument("path", nargs="?")
    val.set_defaults(func=cmd_validate)
    args = parser.parse_args(argv)
    quiet_libraries()
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    from trainers.malloc import keep_freed_memory

    keep_freed_memory()  # reproduce and run execute their phases in this process: see trainers/malloc.py
    sys.exit(main())
