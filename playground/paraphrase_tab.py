"""Paraphrase test: one task asked N ways (typed, or taken from the evaluation suite, and optionally the first
phrasing rendered through the templates the evaluation uses) x the selected stages. Shows the grid of answers, a
consistency heatmap (stage x phrasing: right answer, or agreement with the stage's majority answer when none is
given) and the suite's robustness metrics for exactly these rows. The variants, the answering path and the scoring
are the Evaluate tab's (evalsuite.variants, trainers.generate.answer_grid, evalsuite.scorers / robustness); this
module only formats them.
"""

import gradio as gr

from playground.chat_tab import MAX_CHAT_CHARS, generation_settings, prompt_problem
from playground.common import notice, refresh_targets, target_label, target_problem, \
    targets_picker, usable_hub
from playground.jobs_panel import job_html, visible_job
from playground.notes import metric_notes
from playground.workspace import owned

MAX_PHRASINGS = 24
INLINE_ANSWERS = 16  # a grid this small is answered within the request; a larger one queues as a job
ROBUSTNESS_HEADERS = ["model", "mean score", "95% interval (phrasings)", "worst", "spread", "consistency",
                      "flip rate", "paraphrases", "training templates", "held-out templates"]


def suite_queries() -> dict:
    try:
        from evalsuite.suite import load_suite

        return {q.id: q for q in load_suite()}
    except (OSError, ValueError):
        return {}


def query_choices() -> list[tuple[str, str]]:
    return [("(none: type your own)", "")] + [(f"{q.id} · {q.category} · {q.canonical[:60]}", q.id)
                                              for q in suite_queries().values()]


def expected_of(query) -> str:
    check = query.check
    if check.get("type") == "exact":
        return check["answers"][0]
    if check.get("type") == "numeric":
        return f"{check['answer']:g}" if isinstance(check["answer"], float) else str(check["answer"])
    return ""


def pick_query(query_id: str):
    query = suite_queries().get(query_id or "")
    if query is None:
        return gr.skip(), gr.skip(), gr.skip()
    return "\n".join(query.paraphrases), query.input or "", expected_of(query)


def typed_variants(phrasings: str, input_text: str, with_templates: bool) -> list[dict]:
    """The evaluation's variants of the typed task: one phrasing per line, the first playing the canonical one."""
    from evalsuite.variants import build_variants

    lines = [ln.strip() for ln in (phrasings or "").splitlines() if ln.strip()]
    return build_variants(lines, input_text or "", templates=with_templates)


def phrasing_interval(scores: list[tuple]) -> dict:
    """A model's mean score on this one task with its 95% interval resampling the phrasings (each phrasing its
    own cluster: there is one query here, so the interval says how much the score depends on which phrasings were
    typed, not how the model does on other tasks)."""
    from evalsuite.stats import mean_interval

    return mean_interval({str(i): [float(score)] for i, (score, _) in enumerate(scores)})


def heatmap(variants: list[dict], answers: dict, scores: dict, meaning: str):
    """Left: stage x phrasing cells; right: each stage's mean over the phrasings with its 95% interval."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    labels = [v["variant"] for v in variants]
    targets = list(answers)
    names = [target_label(t) for t in targets]
    first = [[(a.strip().splitlines() or ["(no text)"])[0] for a in answers[t]] for t in targets]
    short = [[line if len(line) <= 12 else line[:11] + "…" for line in row] for row in first]
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, column_widths=[0.8, 0.2], horizontal_spacing=0.03,
                        subplot_titles=("", f"mean, 95% interval over {len(variants)} phrasings"))
    fig.add_trace(go.Heatmap(z=[[s for s, _ in scores[t]] for t in targets], x=labels, y=names, zmin=0, zmax=1,
                             colorscale="RdYlGn", text=short, texttemplate="%{text}", textfont={"size": 9},
                             customdata=[[line[:80] for line in row] for row in first], showscale=False,
                             hovertemplate="%{y} / %{x}<br>%{customdata}<br>score %{z:.2f}<extra></extra>"), 1, 1)
    cells = [phrasing_interval(scores[t]) for t in targets]
    fig.add_trace(go.Bar(x=[c["score"] for c in cells], y=names, orientation="h", marker_color="#4c78a8",
                         error_x={"type": "data", "visible": True,
                                  "array": [(c["ci_high"] or c["score"]) - c["score"] for c in cells],
                                  "arrayminus": [c["score"] - (c["ci_low"] or c["score"]) for c in cells]},
                         hovertext=[interval_label(c) for c in cells], showlegend=False,
                         hovertemplate="%{y}<br>%{hovertext}<extra></extra>"), 1, 2)
    fig.update_annotations(font_size=12)  # the bar panel's subplot title
    fig.update_layout(title=f"Consistency: cell = {meaning}", height=220 + 45 * len(targets),
                      xaxis={"tickangle": -40}, xaxis2={"range": [0, 1.05]}, yaxis={"automargin": True},
                      margin={"l": 40, "r": 20, "t": 60, "b": 90})
    return fig


def interval_label(cell: dict) -> str:
    if cell["ci_low"] is None:  # the tab asks for two phrasings at least; a job's view could still hold one
        return f"{cell['score']:.2f}, too few phrasings (n={cell['n']}), no interval"
    return f"{cell['score']:.2f} [{cell['ci_low']:.2f}, {cell['ci_high']:.2f}], n={cell['n']} phrasings"


def robustness_rows(variants: list[dict], answers: dict, scores: dict, query_id: str) -> list[list]:
    """The robustness table: evalsuite's metrics for these rows, one formatted line per model."""
    from evalsuite.robustness import grid_robustness

    table = []
    for model, metrics in grid_robustness(variants, answers, scores, query_id).items():
        overall, cell = metrics["overall"], phrasing_interval(scores[model])
        kinds = [metrics.get(k, {}).get("mean") for k in ("paraphrase", "seen_template", "heldout_template")]
        table.append([target_label(model), _num(overall.get("mean")),
                      f"[{_num(cell['ci_low'])}, {_num(cell['ci_high'])}] n={cell['n']}"]
                     + [_num(overall.get(m)) for m in ("worst", "spread", "consistency", "flip_rate")]
                     + [_num(k) for k in kinds])
    return table


def _num(value) -> str:
    return "-" if value is None else f"{value:.2f}"


def paraphrase_test(phrasings: str, input_text: str, query_id: str, expected: str, with_templates: bool,
                    targets: list[str], max_new_tokens: int, base_model: str | None = None, owner: str | None = None):
    """(grid, heatmap, robustness table, message, job id) for one task in every phrasing x every selected stage.
    A grid of at most INLINE_ANSWERS answers is answered here by the resident model; a larger one becomes a job (job
    id set, the tab's timer draws it when the job ends), so no request holds the shared model for long."""
    from trainers.generate import answer_grid
    from trainers.job_queue import JobBusy
    from trainers.submit import submit_answers

    from evalsuite.variants import prompt_text

    skip = (gr.skip(),) * 3
    phrasings, input_text = str(phrasings or ""), str(input_text or "")
    if max(map(len, [input_text, *phrasings.splitlines()])) > MAX_CHAT_CHARS:
        return *skip, notice(f"A phrasing or the input is over {MAX_CHAT_CHARS:,} characters."), gr.skip()
    variants = typed_variants(phrasings, input_text, bool(with_templates))
    targets = list(dict.fromkeys(str(t) for t in targets or [])) if isinstance(targets, list) else []
    if len(variants) < 2:
        return *skip, notice("Give at least two phrasings (one per line), or tick the template box."), gr.skip()
    if len(variants) > MAX_PHRASINGS:
        return *skip, notice(f"{len(variants)} phrasings; the limit is {MAX_PHRASINGS}."), gr.skip()
    settings, problem = generation_settings(0, 1, max_new_tokens)
    hub = None
    if not problem:
        hub, problem = usable_hub(base_model)
    longest = max((prompt_text(v["prompt"]) for v in variants), key=len)
    problem = problem or prompt_problem(hub.base_name, [{"role": "user", "content": longest}], "")
    if problem:
        return *skip, notice(problem), gr.skip()
    max_new_tokens = settings["max_new_tokens"]
    refused = {t: p for t in targets if (p := target_problem(hub, t, owner))}
    targets = [t for t in targets if t not in refused]
    if not targets:
        return *skip, notice("Select at least one usable model. " + " ".join(refused.values())), gr.skip()
    view = {"variants": variants, "query_id": query_id or "", "expected": expected or "", "refused": refused}
    prompts = [v["prompt"] for v in variants]
    if len(prompts) * len(targets) > INLINE_ANSWERS:
        try:
            job = submit_answers(targets, prompts, hub.base_name, int(max_new_tokens), view=view, owner=owner)
        except (JobBusy, ValueError, OSError) as err:
            return *skip, notice(f"Not started: {err}"), gr.skip()
        return *skip, (f"{len(prompts)} phrasings × {len(targets)} model(s) is more than {INLINE_ANSWERS} answers: "
                       f"queued as job `{job['id']}`; the grid appears here when it ends."), job["id"]
    try:
        answers = answer_grid(hub, targets, prompts, int(max_new_tokens))
    except Exception as err:  # keep the tab alive
        return *skip, notice(f"Generation failed: {err.__class__.__name__}: {err}"), gr.skip()
    return *grid_outputs(view, answers), ""


def grid_outputs(view: dict, answers: dict[str, list[str]]):
    """(grid, heatmap, robustness table, message) from the answers, whether they came inline or from a job."""
    from evalsuite.scorers import score_cells
    from evalsuite.variants import prompt_text

    variants, targets = view["variants"], list(answers)
    query = suite_queries().get(view["query_id"])
    scores, meaning = score_cells(answers, query, view["expected"].strip() if not query else "")
    grid = [[v["variant"], v["variant_kind"], prompt_text(v["prompt"])[:120]] + [
        ("✓ " if scores[t][i][1] else "✗ ") + (answers[t][i].strip() or "(no text)") for t in targets]
        for i, v in enumerate(variants)]
    message = f"{len(variants)} phrasings × {len(targets)} model(s); a cell is green when it {meaning}."
    if view.get("refused"):
        message += " " + notice("Skipped: " + " ".join(f"{t}: {p}" for t, p in view["refused"].items()))
    share = f"{max(8, 58 // len(targets))}%"
    return (gr.update(value=grid, headers=["variant", "kind", "prompt"] + [target_label(t) for t in targets],
                      column_widths=["10%", "12%", "20%"] + [share] * len(targets)),
            heatmap(variants, answers, scores, meaning),
            robustness_rows(variants, answers, scores, query.id if query else "custom"), message)


def follow_grid(job_id: str | None, shown: str | None, owner: str | None = None):
    """Timer tick: the answers job's progress, and the grid once, when it has completed."""
    record = visible_job(job_id, owner)
    if record is None:
        return "", *(gr.skip(),) * 5
    progress = job_html(job_id)
    if record["status"] != "completed" or shown == job_id:
        return progress, *(gr.skip(),) * 5
    return progress, *grid_outputs(record["phases"][0]["spec"]["view"], record["result"]["answers"]), job_id


def create_paraphrase_tab(base_model=None):
    with gr.Tab("Paraphrase test", id="paraphrase") as tab:
        gr.Markdown("Ask one task several ways. Stage 1 typically answers its trained wording and stumbles on the "
                    "rest; Stage 2 should give the same answer everywhere, including templates it never trained on.")
        with gr.Row():
            query = gr.Dropdown(query_choices(), value="", label="Take a task from the evaluation suite", scale=3,
                                elem_id="para-query")
            expected = gr.Textbox(label="Expected answer (optional)", scale=2, elem_id="para-expected",
                                  info="empty = compare each answer with the stage's majority answer")
        with gr.Row():
            phrasings = gr.Textbox(label="Phrasings, one per line", lines=5, scale=3, elem_id="para-phrasings",
                                   value="Convert 3 km to m.\nHow many meters are in 3 km?\nExpress 3 km in meters.")
            with gr.Column(scale=2):
                input_text = gr.Textbox(label="Input (appended to every phrasing)", lines=2, elem_id="para-input")
                with_templates = gr.Checkbox(True, label="Also render the first phrasing through the evaluation's "
                                                         "templates (training and held-out)", elem_id="para-templates")
                max_new = gr.Slider(8, 128, value=32, step=8, label="max new tokens", elem_id="para-max-new")
        targets = targets_picker("para-targets")
        run_btn = gr.Button("Run the paraphrase test", variant="primary", elem_id="para-run")
        message = gr.Markdown(elem_id="para-message")
        job_id = gr.Textbox(label=f"Job (a grid of more than {INLINE_ANSWERS} answers runs as a job)",
                            interactive=False, max_lines=1, elem_id="para-job")
        job_progress = gr.HTML(elem_id="para-progress")
        shown = gr.State(None)
        timer = gr.Timer(2.0)
        plot = gr.Plot(label="Consistency heatmap", elem_id="para-heatmap")
        robustness = gr.Dataframe(headers=ROBUSTNESS_HEADERS, label="Robustness (evalsuite.robustness)",
                                  interactive=False, elem_id="para-robustness")
        gr.Markdown(metric_notes(("mean score", "95% interval (phrasings)", "worst", "spread", "consistency",
                                  "flip rate", "paraphrases / training templates / held-out templates")),
                    elem_id="para-metric-notes")
        grid = gr.Dataframe(headers=["variant", "kind", "prompt"], label="Answers", interactive=False, wrap=True,
                            max_height=500, elem_id="para-grid")
    query.input(pick_query, query, [phrasings, input_text, expected])
    inputs = [phrasings, input_text, query, expected, with_templates, targets, max_new]
    inputs += [base_model] if base_model is not None else []
    run_btn.click(owned(paraphrase_test), inputs, [grid, plot, robustness, message, job_id],
                  api_name="paraphrase_test")
    timer.tick(owned(follow_grid), [job_id, shown], [job_progress, grid, plot, robustness, message, shown],
               show_progress="hidden", queue=False)
    tab.select(owned(refresh_targets), targets, targets, show_progress="hidden")
    return tab
