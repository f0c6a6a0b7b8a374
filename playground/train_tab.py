"""Train tab: pick a stage preset, base model and dataset, edit the hyperparameters that matter (each explained in
one line), check trainable parameters and memory before starting, then watch the run: a chart of loss, learning rate
and tokens/s, a progress bar with ETA and a log tail, refreshed from the run directory by a timer. A refresh or a
second browser tab re-attaches to the running job, because everything shown is read from disk. Start queues a job
(trainers/job_queue.py) and returns at once; the training itself runs in a worker process.
"""

import shlex

import gradio as gr
import yaml

from playground import resources
from playground.common import (REPO, clear_warning, dataset_choices, escape, fmt_duration, fmt_float, fmt_int, notice,
                               repo_relative, run_choices)
from playground.notes import PRESETS, STAGE_NOTES
from playground.workspace import owned
from trainers import names, runs
from trainers.config import DPO_LOSSES, FIELDS, GRPO_LOSSES, STAGE4, help_text, load_config, to_dict
from trainers.mode import public_mode
from trainers.models import REGISTRY
from trainers.owners import may_change, may_see
from trainers.paths import CONFIGS
from trainers.timing import describe_job, describe_outcome
from trainers.validate import form_number

# The hyperparameters the tab exposes, in display order; everything else comes from the preset.
OPTIMIZATION = ("learning_rate", "max_steps", "per_device_train_batch_size", "gradient_accumulation_steps",
                "warmup_steps", "lr_scheduler_type")
DATA = ("max_length", "randomize_templates", "template_seed", "seed", "eval_fraction", "eval_steps")
LORA = ("lora_r", "lora_alpha", "lora_dropout", "target_modules")
PREFERENCE = ("beta", "loss_type")  # both Stage 4 methods; the GRPO ones only show for GRPO
GRPO = ("num_generations", "max_completion_length", "temperature", "reward_funcs", "reward_weights")
MORE = ("save_steps", "logging_steps", "gradient_checkpointing", "bf16", "run_name")
EDITABLE = OPTIMIZATION + DATA + LORA + PREFERENCE + GRPO + MORE
LIST_FIELDS = ("target_modules", "reward_funcs", "reward_weights")  # comma-separated in the form
LOSSES = {"stage4_dpo": DPO_LOSSES, "stage4_grpo": GRPO_LOSSES}
SCHEDULERS = ["cosine", "linear", "constant", "constant_with_warmup", "cosine_with_restarts", "polynomial"]
LOG_LINES = 12


def init_choices(owner: str | None = None, stage: str = "stage3") -> list[tuple[str, str]]:
    """Stage 3 can start from a finished full (Stage 1/2) run instead of the base; Stage 4 also from a LoRA run,
    whose adapter then trains on."""
    methods = ("full", "lora") if stage in STAGE4 else ("full",)
    return [("none (train on the base)", "")] + run_choices(("completed",), methods=methods, owner=owner)


def stage_formats(stage: str) -> tuple[str, ...]:
    """The dataset formats a stage trains on (its module says): what the dataset dropdown offers."""
    from trainers.stages import STAGE_MODULES

    return STAGE_MODULES[stage].ACCEPTED_FORMATS


def preset_path(preset: str):
    return CONFIGS / f"{preset}.yaml"


TEMPLATE_FIELDS = ("randomize_templates", "template_seed")  # only matter for Stage 2 rows (stages 2 and 3)


def loss_choices(stage: str) -> list[tuple[str, str]]:
    return [("the trainer's default", "")] + [(loss, loss) for loss in LOSSES.get(stage, DPO_LOSSES)]


def field_component(name: str, value, visible: bool = True):
    default = FIELDS[name].default
    kwargs = {"label": name, "info": help_text(name), "elem_id": f"train-{name}", "value": value, "visible": visible}
    if name == "lr_scheduler_type":
        return gr.Dropdown(SCHEDULERS, allow_custom_value=True, **kwargs)
    if name == "bf16":
        return gr.Dropdown(["auto", "true", "false"], **kwargs)
    if name == "loss_type":  # choices follow the stage (form_updates): DPO and GRPO name different losses
        return gr.Dropdown(loss_choices("stage4_dpo"), **kwargs)
    if isinstance(default, bool):
        return gr.Checkbox(**kwargs)
    if isinstance(default, int):  # no precision=0: Gradio would round 2.5 or fail on text before collect() says why
        return gr.Number(step=1, **kwargs)
    if isinstance(default, float):
        return gr.Number(**kwargs)
    return gr.Textbox(**kwargs)


def field_value(name: str, value):
    return ", ".join(map(str, value)) if name in LIST_FIELDS else value


def list_value(name: str, text) -> tuple[list, str | None]:
    """A comma-separated form field as the config's list, or the problem with it."""
    items = [v.strip() for v in str(text or "").split(",") if v.strip()]
    if name == "reward_weights":  # may be empty: every reward weighs 1.0
        numbers = [form_number(name, item, whole=False) for item in items]
        problem = next((p for _, p in numbers if p), None)
        return [v for v, _ in numbers], problem
    if not items:
        return [], f"{name}: name at least one" + (" module (or all-linear)" if name == "target_modules" else
                                                   " reward (correct, format, length or module:function)")
    return items, None


def collect(preset: str, base_model: str, dataset: str, init_from: str, *values, owner: str | None = None):
    """(TrainConfig, []) or (None, problems): the preset with the tab's values on top, validated (in public mode
    also: names, not paths, for `owner`)."""
    problems, overrides = [], {"base_model": str(base_model or "").strip() or resources.default_base(),
                               "dataset": str(dataset or "").strip(), "init_from": str(init_from or "").strip()}
    if not overrides["dataset"]:
        problems.append("dataset: pick a starter or saved dataset, or type a file path / Hub id")
    for name, value in zip(EDITABLE, values, strict=True):
        default = FIELDS[name].default
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            value, problem = form_number(name, value, whole=isinstance(default, int))
            if problem:
                problems.append(problem)
                continue
        elif name in LIST_FIELDS:
            value, problem = list_value(name, value)
            if problem:
                problems.append(problem)
                continue
        overrides[name] = value
    if problems:
        return None, problems
    try:
        config = load_config(preset_path(preset), overrides)
    except (ValueError, FileNotFoundError) as err:
        return None, [str(err)]
    if config.stage not in ("stage3", *STAGE4):
        config.init_from = ""
    problems = names.apply_to_config(config, owner) + config.validate()
    if config.max_steps < 1 and not any(p.startswith("max_steps") for p in problems):
        # the form trains by steps (epochs are not on it): 0 would silently mean "one epoch"
        problems.append(f"max_steps: must be >= 1 (got {config.max_steps})")
    return (None, problems) if problems else (config, [])


def code_for(preset: str, *args, owner: str | None = None) -> tuple[str, str]:
    """The CLI command and resolved YAML equivalent to the form (only fields that differ from the preset are --set)."""
    config, problems = collect(preset, *args, owner=owner)
    if config is None:
        return "# fix these first:\n" + "\n".join(f"# {p}" for p in problems), ""
    preset_values, values = to_dict(load_config(preset_path(preset))), to_dict(config)
    sets = []
    for key, value in values.items():
        if value != preset_values.get(key):
            text = ",".join(value) if isinstance(value, list) else str(value).lower() if isinstance(
                value, bool) else str(value)
            sets.append(f"--set {shlex.quote(f'{key}={text}')}")
    command = " \\\n    ".join([f"python -m trainers train {repo_relative(preset_path(preset))}"] + sets)
    return command, yaml.safe_dump(values, sort_keys=False)


def estimate_text(preset: str, *args, owner: str | None = None) -> str:
    """Before a start: trainable parameters and peak memory from the model config, and the time from this machine's
    calibration (trainers/timing.py)."""
    return form_estimate(preset, args, owner=owner)


def live_estimate(preset: str, *args, owner: str | None = None) -> str:
    """estimate_text as the form changes: the numbers follow every edit, a problem shows without a toast."""
    return form_estimate(preset, args, toast=False, owner=owner)


def form_estimate(preset: str, args, toast: bool = True, owner: str | None = None) -> str:
    from trainers.estimate import estimate_training, row_token_lengths, typical_row_tokens
    from trainers.models import ModelNotFound

    config, problems = collect(preset, *args, owner=owner)
    if config is None:
        return notice("Fix these first: " + "; ".join(problems), toast=toast)
    try:
        lengths, n_rows = row_token_lengths(config)
        seq_len, seq_note = typical_row_tokens(config, lengths=lengths), "the dataset's 95th-percentile row"
    except (ValueError, OSError, KeyError):  # unreadable data: the Start button will say why; size at the bound
        lengths = n_rows = None
        seq_len, seq_note = config.max_length, "max_length (the dataset could not be read)"
    try:
        est = estimate_training(config, seq_len=seq_len)
    except (ModelNotFound, ValueError, OSError) as err:
        return notice(f"Cannot size model '{config.base_model}': {str(err).splitlines()[0]}", toast=toast)
    return memory_markdown(config, est, seq_note) + "\n\n" + time_markdown(config, lengths, n_rows)


def time_markdown(config, lengths: list[int] | None, n_rows: int | None) -> str:
    from trainers import timing

    if lengths is None:
        return "**Time:** no estimate (the dataset could not be read)."
    plan = timing.plan_training(config, lengths, n_rows)
    text = timing.describe(timing.estimate_plans([("train", plan)]))
    return f"**Time:** {text} ({plan['steps']} steps of ~{plan['tokens_per_step']:,.0f} tokens)."


def memory_markdown(config, est: dict, seq_note: str) -> str:
    share = f"{est['trainable_pct']:.2f}%"
    runtime = f" + runtime {est['runtime_mb']:,.0f}" if est["runtime_mb"] else ""
    return (f"**Before you start** ({config.method} on `{config.base_model}`, {est['device']}, "
            f"{'bf16' if est['bf16'] else 'fp32'} compute)\n\n"
            f"| trainable parameters | of total | estimated peak memory |\n|---|---|---|\n"
            f"| **{fmt_int(est['trainable_params'])}** ({share}) | {fmt_int(est['total_params'])} | "
            f"**~{est['total_mb']:,.0f} MB** = weights {est['weights_mb']:,.0f} + grads/optimizer "
            f"{est['grads_optimizer_mb']:,.0f} + activations {est['activations_mb']:,.0f}{runtime} |\n\n"
            f"_Estimated from the model config (no weights loaded) for batches of "
            f"{config.per_device_train_batch_size} x {est['seq_len']} tokens ({seq_note}); the measured peak lands "
            f"in the Runs tab._")


def start_training(preset: str, *args, owner: str = "local") -> tuple[str, str | None, str | None]:
    """Queue the run as a job and return at once: (message, run id, job id). The timer follows it from disk."""
    from trainers.data import DatasetError
    from trainers.job_queue import QUEUE, JobBusy
    from trainers.models import ModelNotFound
    from trainers.submit import submit_training

    config, problems = collect(preset, *args, owner=owner)
    if config is None:
        return notice("Not started: " + "; ".join(problems)), gr.skip(), gr.skip()
    try:
        run_id, job = submit_training(config, owner=owner)
    except JobBusy as err:
        return notice(f"Not started: {err}."), gr.skip(), gr.skip()
    except DatasetError as err:
        errors = [p for p in err.problems if p.level == "error"]
        listing = "; ".join(str(p) for p in errors[:8]) + (" ..." if len(errors) > 8 else "")
        return notice(f"Not started: {len(errors)} invalid row(s) in {config.dataset}: {listing}"), gr.skip(), \
            gr.skip()
    except ModelNotFound as err:
        return notice(f"Not started: {err}"), gr.skip(), gr.skip()
    except (ValueError, FileNotFoundError, OSError, RuntimeError) as err:
        return notice(f"Not started: {str(err).strip()}"), gr.skip(), gr.skip()
    ahead = QUEUE.ahead_of(job["id"])
    when = f"queued behind {ahead} job(s)" if ahead else "starting now"
    return notice(f"Run {runs.label_of(run_id)} is {when} (job {job['id']}; {describe_job(job)}). The chart below "
                  "follows it; you can close this tab and come back.", "info"), run_id, job["id"]


def cancel_training(watched: str | None = None, owner: str = "local") -> str:
    """Cancel the job that holds the watched run, else the training job that is running now (in public mode: of
    this workspace)."""
    from trainers.job_queue import QUEUE

    candidates = [QUEUE.holder(watched) if isinstance(watched, str) and watched else None, QUEUE.active()]
    job = next((r for r in map(_job_or_none, candidates) if r and r["kind"] == "train" and may_change(r, owner)),
               None)
    if job is None:
        return notice("No training of yours is running or queued right now.")
    outcome = QUEUE.cancel(job["id"])
    run = ", ".join(job.get("run_ids") or []) or job["id"]
    if outcome == "cancelled":
        return notice(f"Cancelled {run} before it started.", "info")
    return notice(f"Cancelling {run}: it stops after the current step and saves what it trained.", "info")


def _job_or_none(job_id: str | None) -> dict | None:
    from trainers import jobs

    try:
        return jobs.read_job(job_id) if job_id else None
    except (OSError, ValueError):
        return None


BLUE, AMBER, GREEN, RED, PURPLE, GREY = "#2563eb", "#f59e0b", "#10b981", "#dc2626", "#7c3aed", "#64748b"
# (chart title, [(metrics.jsonl key, colour, legend name)]) per stage; Stage 4's trainers log what their method
# optimizes besides the loss, and that is what a learner should watch
PANELS = {
    "sft": (("loss", [("loss", BLUE, "loss")]), ("learning rate", [("learning_rate", AMBER, "learning rate")]),
            ("tokens / s", [("tokens_per_second", GREEN, "tokens/s")])),
    "stage4_dpo": (("loss (0.69 = a coin flip)", [("loss", BLUE, "loss")]),
                   ("rewards: chosen vs rejected", [("rewards/chosen", GREEN, "chosen"),
                                                    ("rewards/rejected", RED, "rejected"),
                                                    ("rewards/margins", PURPLE, "margin")]),
                   ("preference accuracy", [("rewards/accuracies", AMBER, "accuracy")]),
                   ("tokens / s", [("tokens_per_second", GREY, "tokens/s")])),
    "stage4_grpo": (("mean reward", [("reward", BLUE, "reward")]),
                    ("reward std and KL", [("reward_std", AMBER, "reward std"), ("kl", PURPLE, "kl")]),
                    ("completion length (tokens)", [("completions/mean_length", GREEN, "mean length")]),
                    ("clipped at max_completion_length", [("completions/clipped_ratio", RED, "clipped share")])),
}
REWARD_COLOURS = ("#0891b2", "#db2777", "#65a30d", "#ea580c", "#4f46e5")


def stage_panels(stage: str, rows: list[dict]) -> list[tuple[str, list]]:
    panels = [(title, list(series)) for title, series in PANELS.get(stage, PANELS["sft"])]
    if stage == "stage4_grpo":  # one line per reward function, beside their weighted mean
        names = sorted({k[len("rewards/"):-len("/mean")] for r in rows for k in r
                        if k.startswith("rewards/") and k.endswith("/mean")})
        panels[0][1].extend((f"rewards/{n}/mean", REWARD_COLOURS[i % len(REWARD_COLOURS)], n)
                            for i, n in enumerate(names))
    return panels


def metrics_figure(rows: list[dict], title: str, eval_rows: list[dict] | None = None, stage: str = "stage1"):
    """The stage's charts by step (stages 1-3: loss, learning rate, tokens/s; DPO: loss, rewards of chosen and
    rejected and their margin, preference accuracy; GRPO: mean reward and each reward function's, reward std and
    KL, completion length, clipped share). The first chart's main line also gets a smoothed copy and, when rows
    were held out, the validation loss."""
    from plotly.subplots import make_subplots

    panels = stage_panels(stage, rows)
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[t for t, _ in panels])
    steps = [r.get("step") for r in rows]
    for col, (_, series) in enumerate(panels, 1):
        for key, color, name in series:
            fig.add_scatter(x=steps, y=[r.get(key) for r in rows], mode="lines+markers", name=name, row=1, col=col,
                            line={"color": color}, marker={"size": 5}, showlegend=len(series) > 1)
        fig.update_xaxes(title_text="step", row=1, col=col)
    main_key, _, main_name = panels[0][1][0]
    fig.add_scatter(x=steps, y=smoothed([r.get(main_key) for r in rows]), mode="lines", name=f"{main_name}, smoothed",
                    row=1, col=1, line={"color": RED if main_key == "loss" else GREY, "width": 2.5})
    if eval_rows:  # a training loss far below this line is memorization, not learning
        fig.add_scatter(x=[r["step"] for r in eval_rows], y=[r.get("eval_loss") for r in eval_rows],
                        mode="lines+markers", name="validation loss", row=1, col=1,
                        line={"color": PURPLE, "width": 2, "dash": "dash"}, marker={"size": 7, "symbol": "diamond"})
    fig.update_layout(title=title, height=330, showlegend=True, uirevision="train",
                      legend={"orientation": "h", "y": -0.25}, margin={"l": 40, "r": 20, "t": 70, "b": 40})
    return fig


SAMPLE_STEPS = 3  # logged steps shown in the samples table, newest first


def samples_update(run_id: str):
    """The samples table with the text columns sharing the width (a long prompt would push the rewards off)."""
    frame = samples_frame(run_id)
    rewards = len(frame.columns) - 3
    share = 24 / max(rewards, 1)
    return gr.update(visible=True, value=frame,
                     column_widths=["6%", "35%", "35%", *[f"{share:.0f}%"] * rewards])


def samples_frame(run_id: str):
    """GRPO's samples.jsonl as a table: the newest logged steps' sampled completions with each reward, so the
    learner reads what the policy says, not only its mean reward."""
    import pandas as pd

    from trainers.stage4_grpo import read_samples

    rows = read_samples(run_id)
    steps = sorted({r["step"] for r in rows}, reverse=True)[:SAMPLE_STEPS]
    shown = [r for step in steps for r in rows if r["step"] == step]
    names = list(dict.fromkeys(n for r in shown for n in r.get("rewards", {})))
    return pd.DataFrame([{"step": r["step"], "prompt": r["prompt"], "completion": r["completion"],
                          "reward": round(r["reward"], 3), **{n: round(r["rewards"].get(n, 0.0), 3) for n in names}}
                         for r in shown], columns=["step", "prompt", "completion", "reward", *names])


def smoothed(values: list, weight: float = 0.8) -> list:
    """TensorBoard's smoothing: an exponential moving average, debiased so the first points are not pulled to 0.
    One noisy step is what a small batch gives; the trend is what the lesson is about."""
    out, average, total = [], 0.0, 0.0
    for value in values:
        if value is None:
            out.append(None)
            continue
        average, total = weight * average + (1 - weight) * value, weight * total + (1 - weight)
        out.append(average / total)
    return out


def progress_html(record: dict, rows: list[dict], max_steps: int) -> str:
    step = rows[-1]["step"] if rows else 0
    total = max(int(max_steps or 0), 1)
    pct = 100 if record["status"] == "completed" else min(100, 100 * step / total)
    eta = "-"
    elapsed = rows[-1].get("elapsed_s") if rows else None
    if record["status"] == "running" and elapsed and step:
        eta = fmt_duration(elapsed / step * max(total - step, 0))
    waiting = ""
    if record["status"] == "queued":
        waiting = " · waiting in the job queue (see Jobs above)"
    outcome = describe_outcome(record)
    label = runs.run_label({**record, "status": None})  # the status follows in bold
    return (f"<div class='pg-progress'><div class='pg-bar pg-{escape(record['status'])}' style='width:{pct:.0f}%'>"
            f"</div></div><div class='pg-progress-text'>{escape(label)} · run <code>{escape(record['id'])}</code> · "
            f"<b>{escape(record['status'])}</b> · step {step}/{total} ({pct:.0f}%) · ETA {eta}{waiting}"
            f"{' · ' + escape(outcome) if outcome else ''}</div>")


def stage_numbers(row: dict) -> str:
    """What a Stage 4 step optimizes, for the log line (empty for stages 1-3)."""
    if "rewards/margins" in row:
        return (f"  margin {row['rewards/margins']:+.3f}  accuracy {row.get('rewards/accuracies') or 0:.2f}")
    if "reward" in row:
        kl = f"  kl {row['kl']:.4f}" if row.get("kl") is not None else ""
        return f"  reward {row['reward']:.3f}{kl}  length {row.get('completions/mean_length') or 0:.1f}"
    return ""


def log_tail(record: dict, rows: list[dict], eval_rows: list[dict] | None = None) -> str:
    lines = [f"step {r.get('step'):>4}  loss {r.get('loss', 0):.4f}  lr {r.get('learning_rate') or 0:.2e}  "
             f"grad_norm {r.get('grad_norm') or 0:.3f}{stage_numbers(r)}  "
             f"tok/s {r.get('tokens_per_second') or 0:,.0f}  t {r.get('elapsed_s', 0):.1f}s"
             for r in rows[-LOG_LINES:]]
    head = f"[{record['status']}] {record['id']} · {record['stage']}/{record['method']} on {record['base_model']}"
    tail = [f"validation loss {eval_rows[-1]['eval_loss']:.4f} at step {eval_rows[-1]['step']} "
            f"({record.get('held_out_rows') or '?'} held-out rows)"] if eval_rows else []
    if record["status"] in runs.FINISHED:
        tail.append(f"[{record['status']}] final loss {fmt_float(record.get('final_loss'), 4)} (last 5 steps), peak "
                    f"{fmt_float(record.get('peak_memory_mb'), 0)} MB, "
                    f"{fmt_float(record.get('tokens_per_second'), 0)} tokens/s")
    if record.get("error"):
        tail.append(f"[error] {names.scrub(record['error'])}")
    return "\n".join([head] + lines + tail)


def training_job_run(running_only: bool = False, owner: str | None = None) -> str | None:
    """The run of the running training job; unless `running_only`, else of the newest training job (in public
    mode: this workspace's)."""
    from trainers import jobs
    from trainers.job_queue import QUEUE

    record = _job_or_none(QUEUE.active())
    if record and record["kind"] == "train" and record.get("run_ids") and may_see(record, owner):
        return record["run_ids"][-1]
    if running_only:
        return None
    latest = next((r for r in jobs.list_jobs() if r["kind"] == "train" and r.get("run_ids") and r["started_at"]
                   and may_see(r, owner)), None)  # a job cancelled before it started has nothing to show
    return latest["run_ids"][-1] if latest else None


def poll(watched: str | None, seen, owner: str | None = None):
    """Timer tick: follow the watched run, or the running training once the watched one has ended (a resume or a
    start from another tab). Everything shown is read from the run directory; nothing is redrawn unchanged.
    (watched, seen, progress, chart, log, GRPO samples table)."""
    unchanged = gr.skip(), gr.skip(), gr.skip(), gr.skip()
    gone = "", gr.skip(), "", gr.update(visible=False)
    try:
        record = runs.read_run(watched) if watched else None
        if record is not None and not may_see(record, owner):
            raise ValueError("not this workspace's run")
        finished = record is None or record["status"] in runs.FINISHED
    except (OSError, ValueError):  # deleted from the Runs tab
        return None, None, *gone
    if finished:  # a resume or a start from another tab; the page's own starts set `watched` themselves
        watched = training_job_run(running_only=True, owner=owner) or watched
    if not watched:
        return watched, seen, *unchanged
    try:
        record, (rows, eval_rows) = runs.read_run(watched), runs.read_all_metrics(watched)
        max_steps = runs.read_config(watched).get("max_steps") or 0
    except (OSError, ValueError):
        return None, None, *gone
    # measured_s lands a moment after the run ends, when its job has been timed
    key = [watched, len(rows), len(eval_rows), record["status"], record.get("measured_s")]
    if key == seen:
        return watched, seen, *unchanged
    label = runs.run_label({**record, "status": None})
    title = f"{label} ({record['status']})" if rows else f"{label}: waiting for the first logged step"
    figure = metrics_figure(rows, title, eval_rows, record["stage"])
    grpo = record["stage"] == "stage4_grpo"
    samples = samples_update(watched) if grpo else gr.update(visible=False)
    return watched, key, progress_html(record, rows, max_steps), figure, log_tail(record, rows, eval_rows), samples


def attach(watched: str | None, seen, owner: str | None = None):
    """Page load (a refresh or a second browser tab): follow the running training, else the latest one, and show
    the form as that run was started (poll's outputs, then restore_form's)."""
    followed = poll(watched or training_job_run(owner=owner), seen, owner=owner)
    return (*followed, *restore_form(followed[0], owner))


PRESET_OF = {("stage1", "full"): "stage1_sft", ("stage2", "full"): "stage2_instruction",
             ("stage3", "lora"): "stage3_lora", ("stage3", "qlora"): "stage3_qlora",
             ("stage4_dpo", "lora"): "stage4_dpo", ("stage4_dpo", "qlora"): "stage4_dpo",
             ("stage4_grpo", "lora"): "stage4_grpo", ("stage4_grpo", "qlora"): "stage4_grpo"}
SHOWN = 5  # form_updates' leading outputs: note, dataset, init_from, LoRA row, Stage 4 row


def restore_form(run_id: str | None, owner: str | None = None) -> list:
    """[preset, base model, *form_updates] set to the run's saved config; all skipped when there is no run (the
    form keeps its defaults)."""
    from trainers.config import build_config

    try:
        config = build_config(runs.read_config(run_id)) if run_id else None
    except (OSError, ValueError):
        config = None
    if config is None:
        return [gr.skip()] * (2 + SHOWN + len(EDITABLE))
    preset = PRESET_OF.get((config.stage, config.method), "stage1_sft")
    return [preset, config.base_model, *form_updates(config, preset, owner)]


def form_updates(config, preset: str, owner: str | None = None) -> list:
    """[note, dataset, init_from, LoRA row, Stage 4 row, *EDITABLE] showing `config`: a
    preset when the stage changes, a run's config when the page re-attaches to it. Each stage shows the fields it
    reads and offers the datasets (and runs to start from) it can train on."""
    stage = config.stage
    visible = {**dict.fromkeys(("randomize_templates", "template_seed"), stage in ("stage2", "stage3")),
               **dict.fromkeys(GRPO, stage == "stage4_grpo")}
    updates = [gr.update(value=field_value(n, getattr(config, n)),
                         **({"visible": visible[n]} if n in visible else {}),
                         **({"choices": loss_choices(stage)} if n == "loss_type" else {})) for n in EDITABLE]
    dataset = REPO / config.dataset if (REPO / config.dataset).is_file() else None
    starts_on_runs = stage in ("stage3", *STAGE4)
    return [STAGE_NOTES[preset], gr.update(value=starter_value(dataset) if dataset else config.dataset,
                                           choices=dataset_choices(owner, stage_formats(stage))),
            gr.update(visible=starts_on_runs, choices=init_choices(owner, stage), value=config.init_from),
            gr.update(visible=config.method in ("lora", "qlora")), gr.update(visible=stage in STAGE4), *updates]


def apply_preset(preset: str, owner: str | None = None):
    return form_updates(load_config(preset_path(preset)), preset, owner)


def form_changed(message: str, preset: str, *args, owner: str | None = None):
    """Any form edit: the code view follows the form, and a warning about the previous input goes (it was about
    values that are no longer there)."""
    return (*code_for(preset, *args, owner=owner), clear_warning(message))


def starter_value(path) -> str:
    """How the dataset dropdown names a shipped file: its repo path, or in public mode its starter name."""
    return path.stem if public_mode() else repo_relative(path)


def select_tab(preset: str, owner: str | None = None):
    stage = load_config(preset_path(preset)).stage
    return (gr.update(choices=dataset_choices(owner, stage_formats(stage))),
            gr.update(choices=init_choices(owner, stage)), None)


def create_train_tab() -> dict:
    with gr.Tab("Train", id="train") as tab:
        watched, seen = gr.State(None), gr.State(None)
        initial = load_config(preset_path("stage1_sft"))
        with gr.Row():
            preset = gr.Radio([(label, key) for key, label in PRESETS.items()], value="stage1_sft", label="Stage",
                              elem_id="train-stage", scale=3)
            base_model = gr.Dropdown(list(REGISTRY), value=resources.default_base(), allow_custom_value=True,
                                     label="Base model", info=help_text("base_model"), elem_id="train-base", scale=2)
        note = gr.Markdown(STAGE_NOTES["stage1_sft"], elem_classes=["stage-note"])
        with gr.Row():
            dataset = gr.Dropdown(dataset_choices(), value=starter_value(REPO / "assets/datasets/stage1_sft.jsonl"),
                                  allow_custom_value=True, label="Dataset", info=help_text("dataset"),
                                  elem_id="train-dataset", scale=3)
            init_from = gr.Dropdown([("none (train on the base)", "")], value="", label="init_from",
                                    allow_custom_value=True, info=help_text("init_from"), visible=False,
                                    elem_id="train-init", scale=2)
        fields = {}
        with gr.Accordion("Hyperparameters", open=True):
            for group in (OPTIMIZATION, DATA):
                with gr.Row():
                    for name in group:
                        fields[name] = field_component(name, field_value(name, getattr(initial, name)),
                                                       visible=name not in TEMPLATE_FIELDS)
            with gr.Row(visible=False) as lora_row:
                for name in LORA:
                    fields[name] = field_component(name, field_value(name, getattr(initial, name)))
            with gr.Row(visible=False) as stage4_row:
                for name in PREFERENCE + GRPO:
                    fields[name] = field_component(name, field_value(name, getattr(initial, name)),
                                                   visible=name not in GRPO)
            with gr.Row():
                for name in MORE:
                    fields[name] = field_component(name, field_value(name, getattr(initial, name)))
        with gr.Row():
            check_btn = gr.Button("Check: trainable parameters, memory and time", elem_id="train-check")
            start_btn = gr.Button("Start training", variant="primary", elem_id="train-start")
            cancel_btn = gr.Button("Cancel", variant="stop", elem_id="train-cancel")
        message = gr.Markdown(elem_id="train-message")
        job_box = gr.Textbox(label="Job", interactive=False, elem_id="train-job", max_lines=1)
        estimate = gr.Markdown(elem_id="train-estimate")
        progress = gr.HTML("<div class='pg-progress-text'>No run yet: start one above.</div>",
                           elem_id="train-progress")
        plot = gr.Plot(label="Training charts (from metrics.jsonl)", elem_id="train-plot")
        samples = gr.Dataframe(label="Sampled completions and their rewards (GRPO: the newest logged steps)",
                               interactive=False, wrap=True, visible=False, elem_id="train-samples")
        log = gr.Textbox(label="Log tail (metrics.jsonl)", lines=8, max_lines=14, interactive=False,
                         elem_id="train-log")
        with gr.Accordion("Show the code", open=False):
            cli = gr.Code(language="shell", label="Same run from the command line", interactive=False,
                          elem_id="train-cli")
            config_yaml = gr.Code(language="yaml", label="Resolved config (config.yaml of the run)",
                                  interactive=False)
        timer = gr.Timer(1.0)  # inside the Tab: a component directly under gr.Tabs shifts the tab buttons
    form = [preset, base_model, dataset, init_from, *[fields[n] for n in EDITABLE]]
    shown = [note, dataset, init_from, lora_row, stage4_row, *[fields[n] for n in EDITABLE]]
    followed = [watched, seen, progress, plot, log, samples]
    # .input, not .change: a page re-attaching to a run sets the stage itself and must not reset the fields
    preset.input(owned(apply_preset), preset, shown)
    gr.on([c.change for c in form], owned(form_changed), [message, *form], [cli, config_yaml, message],
          show_progress="hidden", queue=False)
    # the estimate follows the form; always_last: a burst of edits (a preset sets twenty fields) computes once more
    gr.on([c.change for c in form], owned(live_estimate), form, estimate, trigger_mode="always_last",
          show_progress="hidden")
    check_btn.click(owned(estimate_text), form, estimate, api_name="estimate_training")
    start_btn.click(owned(start_training), form, [message, watched, job_box], api_name="start_training") \
        .then(owned(poll), [watched, seen], followed, show_progress="hidden")
    cancel_btn.click(owned(cancel_training), watched, message, api_name="cancel_training")
    timer.tick(owned(poll), [watched, seen], followed, show_progress="hidden",
               queue=False)
    # seen=None makes the next tick redraw the chart: plotly cannot size a plot drawn while its tab was hidden
    tab.select(owned(select_tab), preset, [dataset, init_from, seen], show_progress="hidden") \
        .then(owned(live_estimate), form, estimate, show_progress="hidden")  # the calibration may have moved since
    return {"tab": tab, "form": form, "cli": cli, "config_yaml": config_yaml, "watched": watched,
            "attach": (owned(attach), [watched, seen], [*followed, preset, base_model, *shown])}
