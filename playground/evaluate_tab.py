"""Evaluate tab: run the evaluation suite on the base and selected runs (scores per category, robustness across
paraphrases and templates, every example in a table), and "Reproduce the seed": train every stage, evaluate them
and judge each of the seed's claims against the measurements. Both are jobs: the buttons return a job id at once and
a timer follows the job on disk, so a refresh loses nothing (the job keeps running, its report stays in the folder).
"""

import json
from datetime import datetime
from pathlib import Path

import gradio as gr

from evalsuite.reproduce import DEFAULT_LIMIT
from playground import resources
from playground.common import clear_warning, notice, refresh_targets, target_label, target_problem, \
    targets_picker, usable_hub
from playground.jobs_panel import job_html, visible_job
from playground.notes import metric_notes
from playground.workspace import owned
from trainers.mode import public_mode
from trainers.owners import may_see
from trainers.paths import home
from trainers.runs import label_of
from trainers.timing import describe_job
from trainers.validate import form_number

EXAMPLE_HEADERS = ["model", "query", "category", "variant", "kind", "score", "passed", "answer", "why"]
EXAMPLE_WIDTHS = ["11%", "11%", "9%", "9%", "9%", "6%", "6%", "24%", "15%"]


def _out_dir(kind: str):
    return home() / kind / datetime.now().strftime("%Y%m%d-%H%M%S")


def report_outputs(report: dict, out_dir):
    from evalsuite.report import build_figures

    figures = build_figures(report)
    rows = [[r["model"], r["query_id"], r["category"], r["variant"], r.get("variant_kind", ""),
             f"{float(r['score']):.2f}", "pass" if r["passed"] else "fail", str(r.get("answer", ""))[:200],
             str(r.get("why", ""))[:160]] for r in report["results"]]
    files = [str(p) for p in (out_dir / "report.html", out_dir / "report.csv", out_dir / "summary.csv",
                              out_dir / "report.json") if p.is_file()]
    return figures["scores"], figures["robustness"], figures["by_kind"], rows, files or None


def code_option() -> dict:
    """The code checkbox's state: whether model-written code runs here, and confined by what."""
    from evalsuite.sandbox import code_refusal, sandbox_status

    refused = code_refusal()
    if refused:
        return {"interactive": False, "info": f"Public mode: {refused}. Code answers get a static check."}
    status = sandbox_status()
    if status["full"]:
        return {"interactive": True, "info": f"Kernel sandbox: {status['summary']}"}
    return {"interactive": True, "info": f"Local mode, partial sandbox ({status['summary']}): "
                                         + "; ".join(status["problems"])}


def run_eval_ui(models: list[str], limit, include_code: bool, base_model: str | None = None,
                owner: str = "local"):
    """Queue the evaluation as a job and return at once: (message, job id). The tab's timer shows the report."""
    from trainers.job_queue import JobBusy
    from trainers.submit import submit_eval

    models = list(dict.fromkeys(str(m) for m in models or [])) if isinstance(models, list) else []
    if not models:
        return notice("Select at least one model to evaluate."), gr.skip()
    limit, problem = form_number("limit", limit, minimum=0)
    hub = None
    if not problem:
        hub, problem = usable_hub(str(base_model or resources.default_base()).strip())
    if problem:
        return notice(f"Not started: {problem}"), gr.skip()
    refused = {m: p for m in models if (p := target_problem(hub, m, owner))}
    models = [m for m in models if m not in refused]
    if not models:
        return notice("Nothing to evaluate: " + " ".join(refused.values())), gr.skip()
    try:
        job = submit_eval(models, _out_dir("eval"), base_model=hub.base_name, limit=limit or None,
                          include_code=bool(include_code), owner=owner)
    except (JobBusy, ValueError, OSError) as err:
        return notice(f"Not started: {err}"), gr.skip()
    message = (f"Evaluation of {', '.join(target_label(m) for m in models)} queued as job `{job['id']}` "
               f"({describe_job(job)}); the report appears here when it ends.")
    if include_code and not code_option()["interactive"]:
        message += " " + notice(code_option()["info"])
    if refused:
        message += " " + notice("Skipped: " + " ".join(f"{m}: {p}" for m, p in refused.items()))
    return message, job["id"]


def follow_eval(job_id: str | None, shown: str | None, owner: str | None = None):
    """Timer tick: the job's progress, and the report once, when the job has completed."""
    skip = (gr.skip(),) * 7
    record = visible_job(job_id, owner)
    if record is None:
        return "", *skip
    progress = job_html(job_id)
    if record["status"] != "completed" or shown == job_id:
        return progress, *skip
    out_dir = Path(record["result"]["out_dir"])
    report = json.loads((out_dir / "report.json").read_text())
    meta = report.get("meta", {})
    message = (f"Evaluated {', '.join(meta.get('models', []))} on {meta.get('queries', '?')} queries in "
               f"{meta.get('seconds', '?')} s ({meta.get('generated', '?')} generated, {meta.get('cached', '?')} "
               "from the answer cache)." + ("" if public_mode() else f" Report: `{out_dir}`"))
    return progress, message, *report_outputs(report, out_dir), job_id


def default_queries() -> int:
    """The evaluation's and reproduce's default query count, within the hosted app's cap (where its intervals are
    wider, as the report's n and detectable effect say)."""
    from trainers import caps

    cap = caps.limit("eval_queries")
    return DEFAULT_LIMIT if cap is None else min(DEFAULT_LIMIT, int(cap))


def reproduce_ui(steps, limit, base_model: str | None = None, owner: str = "local"):
    """Queue "reproduce the seed" (train every stage, evaluate, judge) as one job: (message, job id)."""
    from evalsuite.reproduce import describe_phases, submit_reproduce
    from trainers.job_queue import JobBusy
    from trainers.names import check_model_name

    steps, problem = form_number("steps", steps or 0, minimum=0)
    limit, problem = (limit, problem) if problem else form_number("limit", limit or 0, minimum=0)
    if problem:
        return notice(problem), gr.skip()
    try:
        base = check_model_name(str(base_model or resources.default_base()).strip())
        job = submit_reproduce(_out_dir("reproduce"), base_model=base, steps=steps, limit=limit or default_queries(),
                               owner=owner)
    except (JobBusy, ValueError, OSError) as err:
        return notice(f"Not started: {err}"), gr.skip()
    return (f"Reproduce queued as job `{job['id']}` ({describe_job(job)}): {describe_phases(job['phases'])}, each "
            "shown below as it runs. Cancel it in the Jobs panel; a cancelled or interrupted job resumes without "
            "redoing finished phases."), job["id"]


def eval_estimate(models: list[str], limit, include_code: bool = False, base_model: str | None = None) -> str:
    """What Run evaluation will cost before it is pressed: the answers it generates and their time here."""
    from trainers import jobs
    from trainers.timing import describe, safe_estimate

    models = list(dict.fromkeys(models or []))
    if not models:
        return ""
    limit = int(limit) if limit and int(limit) > 0 else None
    phase = jobs.phase("evaluate", "eval", models=models, limit=limit, max_new_tokens=64,
                       base_model=(base_model or resources.default_base()).strip())
    estimate = safe_estimate([phase])
    answers = estimate["phases"][0].get("answers")
    count = f"{answers:,} answers at most ({len(models)} model(s) × every phrasing of " \
            f"{limit or 'all'} queries; cached ones are not generated again): " if answers else ""
    return f"**Evaluation:** {count}{describe(estimate)}."


def reproduce_estimate(steps, limit, base_model: str | None = None) -> str:
    """What Reproduce will cost before it is pressed: its phases priced by this machine's calibration."""
    from evalsuite.reproduce import reproduce_phases
    from trainers.timing import describe, fmt_seconds, safe_estimate

    steps = max(int(steps or 0), 0)
    limit = int(limit) if limit is not None and int(limit) > 0 else default_queries()
    try:
        phases = reproduce_phases(home() / "reproduce" / "estimate", (base_model or resources.default_base()).strip(),
                                  steps, limit)
    except (ValueError, OSError) as err:
        return f"**Reproduce:** no time estimate ({err})."
    estimate = safe_estimate(phases)
    parts = ", ".join(f"{p['name']} {fmt_seconds(p['seconds'])}" for p in estimate["phases"] if p["seconds"])
    return f"**Reproduce:** {describe(estimate)}" + (f" ({parts})." if estimate["seconds"] else ".")


def preset_steps() -> str:
    """"40 each, dpo 4": reproduce's steps per training, from its presets."""
    from evalsuite.reproduce import PRESET, REPRODUCE_STAGES

    own = ", ".join(f"{name} {extra['max_steps']}" for name, (_, extra) in REPRODUCE_STAGES.items()
                    if extra.get("max_steps", PRESET["max_steps"]) != PRESET["max_steps"])
    return f"{PRESET['max_steps']} each" + (f", {own}" if own else "")


def phases_table(record: dict) -> list[list]:
    rows = []
    for p in record.get("phases") or []:
        result = p.get("result") or {}
        rows.append([p["name"], p["status"], label_of(result["run_id"]) if result.get("run_id") else
                     result.get("report") or "",
                     (p.get("error") or "")[:160]])
    return rows


def follow_reproduce(job_id: str | None, shown: str | None, owner: str | None = None):
    """Timer tick: the reproduce job's phases, and the claims once the job has completed."""
    record = visible_job(job_id, owner)
    if record is None:
        return "", gr.skip(), gr.skip(), gr.skip(), gr.skip()
    if record["status"] != "completed" or shown == job_id:
        return job_html(job_id), gr.skip(), phases_table(record), gr.skip(), gr.skip()
    result = json.loads(Path(record["result"]["claims"]).read_text())
    claims = [claim_row(c) for c in result.get("claims", [])]
    message = f"Reproduce done in {result.get('seconds', '?')} s. Runs: {', '.join(result['run_ids'].values())}."
    if not public_mode():
        message += f" Claims: `{result.get('report_path')}`, evaluation: `{result.get('eval_report')}`"
    return job_html(job_id), message, phases_table(record), claims, job_id


CLAIM_HEADERS = ["stage", "claim", "verdict", "difference [95% interval]", "n", "evidence", "rule"]


def claim_row(c: dict) -> list:
    """One claims.json entry as a table row: the interval and n beside the verdict they decided."""
    from evalsuite.claims_html import interval_label

    return [c.get("stage", c.get("group", "")), c.get("claim", ""), c.get("verdict", c.get("holds", "")),
            interval_label(c),
            "" if c.get("n") is None else str(c["n"]), str(c.get("evidence", ""))[:400], str(c.get("rule", ""))]


def create_evaluate_tab(base_model=None):
    with gr.Tab("Evaluate", id="evaluate") as tab:
        gr.Markdown("Score models on the evaluation suite: every query in all its phrasings, under training and "
                    "held-out templates, with judge-free checks (exact answers, numbers, verifiable constraints, "
                    "code tests). Answers are cached, so re-running only generates what changed.")
        with gr.Row():
            models = targets_picker("eval-models", scale=3)
            with gr.Column(scale=1):
                limit = gr.Number(default_queries(), label="Queries (0 = the whole suite)", precision=0, minimum=0,
                                  elem_id="eval-limit", info=f"{DEFAULT_LIMIT} (25 per large category) give intervals "
                                  "narrow enough to decide; a few per category is quicker, with wide intervals")
                include_code = gr.Checkbox(False, label="Run code answers in the sandbox", elem_id="eval-code",
                                           **code_option())
        with gr.Accordion("Reproduce settings", open=False):
            with gr.Row():
                repro_steps = gr.Number(0, label=f"Training steps per stage (0 = the presets: {preset_steps()})",
                                        precision=0, minimum=0, elem_id="repro-steps")
                repro_limit = gr.Number(0, label=f"Suite queries (0 = the reproduce default, {default_queries()})",
                                        precision=0, minimum=0, elem_id="repro-limit")
        with gr.Row():
            run_btn = gr.Button("Run evaluation", variant="primary", elem_id="eval-run")
            reproduce_btn = gr.Button("Reproduce the seed (trains every stage: long on CPU)", elem_id="eval-repro")
        with gr.Row():
            estimate = gr.Markdown(elem_id="eval-estimate")
            repro_estimate = gr.Markdown(elem_id="repro-estimate")
        message = gr.Markdown(elem_id="eval-message")
        with gr.Row():
            eval_job = gr.Textbox(label="Evaluation job", interactive=False, max_lines=1, elem_id="eval-job")
            repro_job = gr.Textbox(label="Reproduce job", interactive=False, max_lines=1, elem_id="repro-job")
        eval_progress = gr.HTML(elem_id="eval-progress")
        with gr.Row():
            scores = gr.Plot(label="Scores per category (95% intervals over queries)")
            by_kind = gr.Plot(label="By variant kind")
        robustness = gr.Plot(label="Robustness heatmap")
        with gr.Accordion("What the numbers mean", open=False):
            gr.Markdown(metric_notes(), elem_id="eval-metric-notes")
        examples = gr.Dataframe(headers=EXAMPLE_HEADERS, label="Every example", interactive=False, wrap=True,
                                max_height=420, elem_id="eval-examples", column_widths=EXAMPLE_WIDTHS)
        files = gr.File(label="Report files", file_count="multiple", interactive=False)
        repro_progress = gr.HTML(elem_id="repro-progress")
        phases = gr.Dataframe(headers=["phase", "status", "run / report", "error"], label="Reproduce phases",
                              interactive=False, wrap=True, elem_id="repro-phases")
        claims = gr.Dataframe(headers=CLAIM_HEADERS, label="Seed claims (verdicts from paired 95% intervals; the rule "
                              "of each is in its last column)", wrap=True, interactive=False, elem_id="eval-claims",
                              column_widths=["8%", "14%", "8%", "12%", "5%", "31%", "22%"])
        eval_shown, repro_shown = gr.State(None), gr.State(None)
        timer = gr.Timer(2.0)
    extra = [base_model] if base_model is not None else []
    eval_inputs, repro_inputs = [models, limit, include_code] + extra, [repro_steps, repro_limit] + extra
    gr.on([models.change, limit.change], eval_estimate, eval_inputs, estimate, trigger_mode="always_last",
          show_progress="hidden")
    gr.on([repro_steps.change, repro_limit.change], reproduce_estimate, repro_inputs, repro_estimate,
          trigger_mode="always_last", show_progress="hidden")
    gr.on([models.change, limit.change, include_code.change, repro_steps.change, repro_limit.change], clear_warning,
          message, message, show_progress="hidden", queue=False)
    run_btn.click(owned(run_eval_ui), [models, limit, include_code] + extra, [message, eval_job],
                  api_name="run_eval")
    reproduce_btn.click(owned(reproduce_ui), [repro_steps, repro_limit] + extra, [message, repro_job],
                        api_name="reproduce_seed")
    timer.tick(owned(follow_eval), [eval_job, eval_shown],
               [eval_progress, message, scores, robustness, by_kind, examples, files, eval_shown],
               show_progress="hidden", queue=False)
    timer.tick(owned(follow_reproduce), [repro_job, repro_shown],
               [repro_progress, message, phases, claims, repro_shown], show_progress="hidden", queue=False)
    tab.select(owned(refresh_targets), models, models, show_progress="hidden") \
        .then(eval_estimate, eval_inputs, estimate, show_progress="hidden") \
        .then(reproduce_estimate, repro_inputs, repro_estimate, show_progress="hidden")
    return {"tab": tab, "attach": (owned(latest_jobs), [eval_job, repro_job], [eval_job, repro_job])}


def latest_jobs(eval_job: str | None, repro_job: str | None, owner: str | None = None):
    """Page load: follow the newest evaluation and reproduce jobs, so a refresh re-attaches to them."""
    from trainers import jobs

    records = [r for r in jobs.list_jobs() if may_see(r, owner)]
    newest = {kind: next((r["id"] for r in records if r["kind"] == kind), None) for kind in ("eval", "reproduce")}
    return eval_job or newest["eval"], repro_job or newest["reproduce"]
