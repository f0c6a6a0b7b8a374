"""Command line for the engine.

    python -m trainers train assets/configs/stage3_lora.yaml --set max_steps=5 --set base_model=tiny
    python -m trainers validate assets/datasets/stage1_sft.jsonl --format stage1
    python -m trainers runs | models | resume RUN_ID

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


def _shared_run_id(config) -> str:
    """Under torchrun the ranks must agree on one run id: rank 0 picks it and broadcasts it."""
    from trainers import runs

    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    run_id = runs.new_run_id(config.stage, config.method, config.run_name) if runs.is_writer() else None
    if world_size > 1:
        import torch
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        holder = [run_id]
        dist.broadcast_object_list(holder, src=0)
        run_id = holder[0]
    return run_id


def _stop_on_ctrl_c() -> threading.Event:
    """First Ctrl-C: stop at the next step and save what was trained. A second one aborts (the run is `failed`)."""
    stop = threading.Event()

    def handler(*_):
        stop.set()
        print("\nstopping at the next step and saving; Ctrl-C again to abort", file=sys.stderr, flush=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGINT, handler)
    return stop


def cmd_train(args) -> int:
    from trainers import runs
    from trainers.config import load_config, parse_overrides, to_dict
    from trainers.jobs import preflight

    config = load_config(args.config, parse_overrides(args.set))
    preflight(config)
    runs.mark_interrupted()
    run_id = _shared_run_id(config)
    runs.create_run(run_id, to_dict(config))
    if runs.is_writer():
        print(f"run {run_id}: {runs.run_path(run_id)}", flush=True)
    return _execute_and_report(config, run_id, None)


def _execute_and_report(config, run_id: str, checkpoint: str | None) -> int:
    """Train in the foreground with a progress bar and Ctrl-C handling, then print the run's numbers."""
    from trainers.jobs import execute

    stop = _stop_on_ctrl_c()
    bar, on_step = _progress_bar(config.max_steps)
    record = execute(config, run_id, stop, checkpoint, on_step)
    bar.close()
    return _report(record)


def _report(record: dict) -> int:
    from trainers import runs

    if not runs.is_writer():
        return 0
    if record["status"] == "failed":
        return _fail(f"run {record['id']} failed: {record['error']}")
    share = 100 * record["trainable_params"] / max(record["total_params"], 1)
    loss = "-" if record.get("final_loss") is None else f"{record['final_loss']:.4f}"
    print(f"{record['status']}: final loss {loss}, {record['tokens_per_second'] or 0:.0f} tokens/s, "
          f"peak {record['peak_memory_mb']:.0f} MB, trainable {record['trainable_params']:,} of "
          f"{record['total_params']:,} ({share:.2f}%)\nartifact: {record['artifact_dir']}")
    return 0


def cmd_resume(args) -> int:
    from trainers import runs
    from trainers.jobs import prepare_resume

    runs.mark_interrupted()  # a run left `running` by a crash becomes resumable
    config, checkpoint = prepare_resume(args.run_id)
    print(f"resuming {args.run_id} from {checkpoint or 'the start (no checkpoint was saved)'}", flush=True)
    return _execute_and_report(config, args.run_id, checkpoint)


def cmd_validate(args) -> int:
    from trainers.data import load_rows, validate_rows
    from trainers.models import load_tokenizer

    tokenizer = load_tokenizer(args.model) if args.max_length else None
    problems = validate_rows(load_rows(args.file), args.format, tokenizer, args.max_length)
    for problem in problems:
        print(("warning: " if problem.level == "warning" else "") + str(problem))
    errors = sum(p.level == "error" for p in problems)
    print(f"{args.file}: {errors} error(s), {len(problems) - errors} warning(s)", file=sys.stderr)
    return 1 if errors else 0


def cmd_runs(args) -> int:
    from trainers import runs

    runs.mark_interrupted()
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
    parser = argparse.ArgumentParser(prog="python -m trainers", description="LLM post-training playground engine")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train one stage from a config file")
    train.add_argument("config", help="a YAML file, e.g. assets/configs/stage3_lora.yaml")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field")
    train.set_defaults(func=cmd_train)
    resume = sub.add_parser("resume", help="continue an interrupted run from its last checkpoint")
    resume.add_argument("run_id")
    resume.set_defaults(func=cmd_resume)
    validate = sub.add_parser("validate", help="check a dataset file; exit 1 if any row is invalid")
    validate.add_argument("file")
    validate.add_argument("--format", required=True, choices=["stage1", "stage2", "preference"])
    validate.add_argument("--max-length", type=int, default=0, help="also reject rows longer than this many tokens")
    validate.add_argument("--model", default="embedded", help="tokenizer for --max-length")
    validate.set_defaults(func=cmd_validate)
    sub.add_parser("runs", help="list runs").set_defaults(func=cmd_runs)
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
