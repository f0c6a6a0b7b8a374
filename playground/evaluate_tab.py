"""Evaluate tab: run the evaluation suite on the base and selected runs (scores per category, robustness across
paraphrases and templates, every example in a table), and "Reproduce the seed": train every stage, evaluate them
and judge each of the seed's claims against the measurements.
"""

from datetime import datetime

import gradio as gr

from playground import state
from playground.common import BASE_TARGET, compatibility_problem, model_targets, notice, targets_picker
from trainers.paths import home

EXAMPLE_HEADERS = ["model", "query", "category", "variant", "kind", "score", "passed", "answer", "why"]
EXAMPLE_WIDTHS = ["11%", "11%", "9%", "9%", "9%", "6%", "6%", "24%", "15%"]


def _out_dir(kind: str):
    return home() / kind / datetime.now().strftime("%Y%m%d-%H%M%S")


class ProgressRelay:
    """Adapts the engine's progress calls (a count of finished generations, or a log line) to gr.Progress."""

    def __init__(self, progress, total: int | None = None):
        self.progress, self.total, self.done, self.last = progress, total, 0, ""

    def __call__(self, value=None, *args, **kwargs):
        if isinstance(value, str):
            self.last = value
        elif isinstance(value, (int, float)):
            self.done += int(value)
        try:
            self.progress((self.done, self.total) if self.total else None,
                          desc=self.last or f"{self.done} answers generated", unit="answers")
        except Exception:  # progress is cosmetic; never let it break the run
            pass


def _jobs_estimate(models: list[str], limit: int | None) -> int | None:
    try:
        from evalsuite.runner import SEEN_TEMPLATES
        from evalsuite.suite import load_suite
        from trainers.templates import HELDOUT_TEMPLATES

        queries = load_suite()
        if limit:
            cats = {q.category for q in queries}
            per = max(1, limit // len(cats))
            queries = [q for c in cats for q in [q for q in queries if q.category == c][:per]]
        per_query = sum(len(q.paraphrases) + len(SEEN_TEMPLATES) + len(HELDOUT_TEMPLATES) for q in queries)
        return per_query * len(models)
    except Exception:  # only sizes the progress bar
        return None


def report_outputs(report: dict, out_dir):
    from evalsuite.report import build_figures

    figures = build_figures(report)
    rows = [[r["model"], r["query_id"], r["category"], r["variant"], r.get("variant_kind", ""),
             f"{float(r['score']):.2f}", "pass" if r["passed"] else "fail", str(r.get("answer", ""))[:200],
             str(r.get("why", ""))[:160]] for r in report["results"]]
    files = [str(p) for p in (out_dir / "report.html", out_dir / "report.csv", out_dir / "report.json")
             if p.is_file()]
    return figures["scores"], figures["robustness"], figures["by_kind"], rows, files or None


def run_eval_ui(models: list[str], limit, include_code: bool, base_model: str | None = None,
                progress=gr.Progress()):  # noqa: B008 (how Gradio injects progress)
    """(message, 3 figures, examples table, report files)."""
    skip = (gr.skip(),) * 5
    try:
        from evalsuite.runner import run_eval
    except ImportError as err:
        return notice(f"The evaluation runner is not available in this build (evalsuite.runner: {err})."), *skip
    models = list(dict.fromkeys(models or []))
    if not models:
        return notice("Select at least one model to evaluate."), *skip
    base = (base_model or state.default_base()).strip()
    hub = state.get_hub(base)
    refused = {m: p for m in models if (p := compatibility_problem(hub, m))}
    models = [m for m in models if m not in refused]
    if not models:
        return notice("Nothing to evaluate: " + " ".join(refused.values())), *skip
    limit = int(limit) if limit and int(limit) > 0 else None
    out_dir = _out_dir("eval")
    relay = ProgressRelay(progress, _jobs_estimate(models, limit))
    try:
        report = run_eval(models, out_dir, base_model=base, limit=limit, include_code=bool(include_code),
                          progress=relay, hub=hub)
    except Exception as err:  # the tab stays usable; the message says what broke
        return notice(f"Evaluation failed: {err.__class__.__name__}: {err}"), *skip
    meta = report.get("meta", {})
    message = (f"Evaluated {', '.join(models)} on {meta.get('queries', '?')} queries in {meta.get('seconds', '?')} s "
               f"({meta.get('generated', '?')} generated, {meta.get('cached', '?')} from the answer cache). "
               f"Report: `{out_dir}`")
    if refused:
        message += " " + notice("Skipped: " + " ".join(f"{m}: {p}" for m, p in refused.items()))
    return message, *report_outputs(report, out_dir)


def reproduce_ui(base_model: str | None = None, progress=gr.Progress()):  # noqa: B008
    """Train all stages, evaluate them and judge the seed's claims; (message, claims table)."""
    try:
        from evalsuite.reproduce import reproduce
    except ImportError as err:
        return notice(f"Reproduce is not available in this build (evalsuite.reproduce: {err})."), gr.skip()
    from trainers.jobs import RUNNER

    if RUNNER.active():
        return notice(f"A run is training ({RUNNER.active()}); reproduce trains its own runs, wait or cancel."), \
            gr.skip()
    out_dir = _out_dir("reproduce")
    try:
        result = reproduce(out_dir, base_model=(base_model or state.default_base()).strip(),
                           progress=ProgressRelay(progress))
    except Exception as err:  # a stage failed: report it, keep the app alive
        return notice(f"Reproduce failed: {err.__class__.__name__}: {err}"), gr.skip()
    claims = [[c.get("stage", c.get("group", "")), c.get("claim", ""), c.get("verdict", c.get("holds", "")),
               str(c.get("evidence", ""))[:300]] for c in result.get("claims", [])]
    return (f"Done in {result.get('seconds', '?')} s. Runs: {result.get('run_ids')}. Claims: "
            f"`{result.get('report_path')}`, evaluation: `{result.get('eval_report')}`"), claims


def create_evaluate_tab(base_model=None):
    with gr.Tab("Evaluate", id="evaluate") as tab:
        gr.Markdown("Score models on the evaluation suite: every query in all its phrasings, under training and "
                    "held-out templates, with judge-free checks (exact answers, numbers, verifiable constraints, "
                    "code tests). Answers are cached, so re-running only generates what changed.")
        with gr.Row():
            models = targets_picker("eval-models", scale=3)
            with gr.Column(scale=1):
                limit = gr.Number(6, label="Queries (0 = the whole suite)", precision=0, minimum=0,
                                  elem_id="eval-limit", info="a few per category keeps a CPU run short")
                include_code = gr.Checkbox(False, label="Run code answers in the sandbox")
        with gr.Row():
            run_btn = gr.Button("Run evaluation", variant="primary", elem_id="eval-run")
            reproduce_btn = gr.Button("Reproduce the seed (trains every stage: long on CPU)", elem_id="eval-repro")
        message = gr.Markdown(elem_id="eval-message")
        with gr.Row():
            scores = gr.Plot(label="Scores per category")
            by_kind = gr.Plot(label="By variant kind")
        robustness = gr.Plot(label="Robustness heatmap")
        examples = gr.Dataframe(headers=EXAMPLE_HEADERS, label="Every example", interactive=False, wrap=True,
                                max_height=420, elem_id="eval-examples", column_widths=EXAMPLE_WIDTHS)
        files = gr.File(label="Report files", file_count="multiple", interactive=False)
        claims = gr.Dataframe(headers=["stage", "claim", "verdict", "evidence"], label="Seed claims", wrap=True,
                              interactive=False, elem_id="eval-claims")
    extra = [base_model] if base_model is not None else []
    run_btn.click(run_eval_ui, [models, limit, include_code] + extra,
                  [message, scores, robustness, by_kind, examples, files], api_name="run_eval")
    reproduce_btn.click(reproduce_ui, extra, [message, claims], api_name="reproduce_seed")
    tab.select(lambda chosen: gr.update(choices=model_targets(), value=[c for c in chosen or [] if c in {
        v for _, v in model_targets()}] or [BASE_TARGET]), models, models, show_progress="hidden")
    return tab
