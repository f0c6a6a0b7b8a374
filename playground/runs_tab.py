"""Runs tab: every run with its status and measured numbers, loss curves of several runs overlaid, an efficiency
table of full fine-tuning vs LoRA vs QLoRA from your own runs (picked and compared by trainers/efficiency.py; this
tab only formats it), and resume / delete / export (merge a LoRA).
Everything is read from the run directories, so runs made with the CLI show up too.
"""

import gradio as gr

from playground.common import clear_warning, fmt_duration, fmt_float, fmt_params, notice, run_choices, safe_list_runs
from playground.workspace import owned
from trainers import runs
from trainers.efficiency import METHODS, efficiency_rows, pick_comparable
from trainers.mode import public_mode
from trainers.names import SAVED, NameRefused, visible_run
from trainers.owners import is_example, may_change

RUN_HEADERS = ["run", "stage", "method", "base model", "status", "trainable params", "peak memory MB", "tokens/s",
               "artifact MB", "final loss (last 5 steps)", "duration", "estimated (error)", "dataset", "id"]
METHOD_NAMES = {"full": "full fine-tuning", "lora": "LoRA", "qlora": "QLoRA"}


def _artifact_mb(run_id: str):
    try:
        return runs.artifact_size_mb(run_id)
    except (OSError, ValueError):
        return None


def runs_table(records: list[dict]) -> list[list]:
    table, labels = [], runs.run_labels(records)
    for r in records:
        share = (f" ({100 * r['trainable_params'] / r['total_params']:.2f}%)"
                 if r.get("trainable_params") and r.get("total_params") else "")
        status = r.get("status") + (" (shared example)" if is_example(r) and public_mode() else "")
        table.append([labels[r["id"]], r.get("stage"), r.get("method"), r.get("base_model"), status,
                      fmt_params(r.get("trainable_params")) + share, fmt_float(r.get("peak_memory_mb"), 0),
                      fmt_float(r.get("tokens_per_second"), 0), fmt_float(_artifact_mb(r["id"]), 2),
                      fmt_float(r.get("final_loss"), 4), fmt_duration(runs.duration_s(r)), estimate_cell(r),
                      dataset_label(r)[-40:], r["id"]])
    return table


def estimate_cell(record: dict) -> str:
    """The time predicted before the run started and how far off it was (its job's measured seconds)."""
    if record.get("estimated_s") is None:
        return "-"
    error = record.get("estimate_error")
    return fmt_duration(record["estimated_s"]) + ("" if error is None else f" ({error:+.0%})")


def dataset_label(record: dict) -> str:
    """A saved dataset's reference is `saved:<owner>/<name>` in public mode; the visitor knows it by its name."""
    dataset = str(record.get("dataset", ""))
    return f"saved: {dataset.rsplit('/', 1)[-1]}" if dataset.startswith(SAVED) else dataset


def _times(value) -> str:
    return "" if value is None else f" ({value:.2f}×)"


def efficiency_markdown(records: list[dict]) -> str:
    """The engine's comparison (trainers.efficiency: the latest full / LoRA / QLoRA runs on one base model and one
    dataset, ratios to the full run) as a Markdown table."""
    picked = pick_comparable(records)
    anchor = next((r for r in picked.values() if r), None)
    if anchor is None:
        return ("_No completed runs yet. Train a Stage 1/2 run and a LoRA and QLoRA run on the same base model and "
                "dataset to fill this._")
    rows, full = efficiency_rows(picked), picked["full"]
    reference = (f"ratios relative to the full run {runs.run_label(full)}" if full else
                 "no full run on these yet: train a Stage 1 or 2 run on them for the ratios")
    lines = [f"**Measured on your runs**, comparing only runs on the same base model and dataset (base "
             f"`{anchor.get('base_model')}`, dataset `{anchor.get('dataset')}`); {reference}\n",
             "| method | run | peak memory MB | where it goes (estimate, MB) | trainable params | "
             "training speed (tokens/s) | artifact MB | final loss (last 5 steps) |", "|" + "---|" * 8]
    for method in METHODS:
        row = rows[method]
        if row is None:
            lines.append(f"| {METHOD_NAMES[method]} | _no completed run_ | | | | | | |")
            continue
        share = "" if row["trainable_pct"] is None else f" ({row['trainable_pct']:.2f}%)"
        lines.append(
            f"| {METHOD_NAMES[method]} | {runs.run_label(picked[method])} | {fmt_float(row['peak_memory_mb'], 0)}"
            f"{_times(row['memory_vs_full'])} | {memory_split(row['memory_parts'])} | "
            f"{fmt_params(row['trainable_params'])}{share} | "
            f"{fmt_float(row['tokens_per_second'], 0)}"
            f"{_times(row['speed_vs_full'])} | {fmt_float(row['artifact_mb'], 2)}{_times(row['artifact_vs_full'])} | "
            f"{fmt_float(row['final_loss'], 4)} |")
    return "\n".join(lines)


MEMORY_PARTS = (("weights_mb", "weights"), ("grads_optimizer_mb", "grads + optimizer"),
                ("activations_mb", "activations"), ("runtime_mb", "runtime"))


def memory_split(parts: dict | None) -> str:
    """"weights 275 · grads + optimizer 56 · **activations 1,925** · runtime 1,000": the largest part in bold, so the
    table says why LoRA saves less than the adapters' size suggests (activations and the frozen weights stay)."""
    if not parts:
        return "-"
    largest = max((key for key, _ in MEMORY_PARTS), key=lambda key: parts.get(key) or 0)
    return " · ".join(f"**{name} {parts[key]:,.0f}**" if key == largest else f"{name} {parts[key]:,.0f}"
                      for key, name in MEMORY_PARTS if parts.get(key))


def overlay_of(run_ids: list[str], owner: str | None = None):
    """The overlay of the picked runs this workspace may see (the picker takes custom values)."""
    return loss_overlay([r for r in run_ids or [] if isinstance(r, str) and not visible_problem(r, owner)])


def visible_problem(run_id: str, owner: str | None) -> str:
    try:
        visible_run(run_id, owner)
    except NameRefused as err:
        return str(err)
    return ""


def loss_overlay(run_ids: list[str]):
    import plotly.graph_objects as go

    fig = go.Figure()
    for run_id in run_ids or []:
        try:
            rows = runs.read_metrics(run_id)
        except (OSError, ValueError):
            continue
        fig.add_scatter(x=[r["step"] for r in rows], y=[r.get("loss") for r in rows], mode="lines+markers",
                        name=runs.label_of(run_id), marker={"size": 4})
    fig.update_layout(title="Training loss by step", xaxis_title="step", yaxis_title="loss", height=360,
                      legend={"orientation": "h", "y": -0.25}, margin={"t": 50, "l": 50, "r": 20})
    return fig


def refresh(selected: list[str] | None, owner: str | None = None):
    records = safe_list_runs(owner)
    ids = [r["id"] for r in records]
    chosen = [r for r in (selected or []) if r in ids] or ids[:3]
    everything = run_choices(owner=owner)
    return (runs_table(records), efficiency_markdown(records), gr.update(choices=everything, value=chosen),
            loss_overlay(chosen), gr.update(choices=everything))


def own_run(run_id: str, owner: str) -> str:
    """"" when this workspace may change the run, else why not (the same words whether it exists or not)."""
    problem = visible_problem(run_id, owner)
    if problem:
        return problem
    return "" if may_change(runs.read_run(run_id), owner) else f"run: '{run_id}' is a shared example; it is read-only"


def resume_run(run_id: str, owner: str = "local") -> str:
    from trainers.job_queue import JobBusy
    from trainers.submit import submit_resume
    from trainers.training import resume_plan

    if not run_id:
        return notice("Pick a run to resume.")
    refused = own_run(run_id, owner)
    if refused:
        return notice(f"Not resumed: {refused}")
    try:
        job = submit_resume(run_id, owner=owner)
    except (JobBusy, ValueError, OSError) as err:
        return notice(f"Not resumed: {err}")
    return notice(f"Queued (job {job['id']}): {resume_plan(run_id)}. Follow it in the Train tab or the Jobs panel.",
                  "info")


def delete_run(run_id: str, owner: str = "local") -> str:
    if not run_id:
        return notice("Pick a run to delete.")
    from trainers.job_queue import QUEUE

    refused = own_run(run_id, owner)
    if refused:
        return notice(f"Not deleted: {refused}")

    job = QUEUE.holder(run_id)
    if job:
        return notice(f"{run_id} belongs to job {job}, which is queued or running; cancel it first.")
    try:
        runs.delete_run(run_id)
    except (RuntimeError, ValueError, OSError) as err:
        return notice(f"Not deleted: {err}")
    return notice(f"Deleted {run_id}.", "info")


def export_run(run_id: str, owner: str = "local") -> str:
    from trainers.export import merged_path
    from trainers.job_queue import JobBusy
    from trainers.submit import submit_export

    if not run_id:
        return notice("Pick a LoRA or QLoRA run to export.")
    refused = own_run(run_id, owner)
    if refused:
        return notice(f"Not exported: {refused}")
    try:
        job = submit_export(run_id, owner=owner)
    except (JobBusy, ValueError, OSError) as err:
        return notice(f"Not exported: {err}")
    where = "in the run's folder" if public_mode() else f"at {merged_path(run_id)}"
    return notice(f"Export queued (job {job['id']}): the adapter is merged into its base and saved as a full model "
                  f"folder {where} (load it with AutoModelForCausalLM.from_pretrained).", "info")


def create_runs_tab():
    with gr.Tab("Runs", id="runs") as tab:
        with gr.Row():
            gr.Markdown("Every run under `$PLAYGROUND_HOME/runs`, newest first, with what was **measured** while it "
                        "trained (peak memory is the run's own worker process: its RSS on CPU, the allocator peak on "
                        "a GPU).")
            refresh_btn = gr.Button("Refresh", size="sm", scale=0, elem_id="runs-refresh")
        table = gr.Dataframe(headers=RUN_HEADERS, interactive=False, wrap=True, max_height=360, label="Runs",
                             elem_id="runs-table")
        with gr.Row(equal_height=True):
            run = gr.Dropdown([], label="Run", scale=3, elem_id="runs-pick", allow_custom_value=True)
            resume_btn = gr.Button("Resume", size="sm", elem_id="runs-resume")
            export_btn = gr.Button("Export: merge LoRA into the base", size="sm", elem_id="runs-export")
            delete_btn = gr.Button("Delete", size="sm", variant="stop", elem_id="runs-delete")
            confirm_btn = gr.Button("Really delete?", size="sm", variant="stop", visible=False,
                                    elem_id="runs-confirm")
        message = gr.Markdown(elem_id="runs-message")
        efficiency = gr.Markdown(elem_id="runs-efficiency")
        overlay_pick = gr.Dropdown([], multiselect=True, label="Overlay loss curves of", elem_id="runs-overlay")
        overlay = gr.Plot(label="Loss curves", elem_id="runs-plot")
    outputs = [table, efficiency, overlay_pick, overlay, run]
    tab.select(owned(refresh), overlay_pick, outputs, show_progress="hidden")
    refresh_btn.click(owned(refresh), overlay_pick, outputs, show_progress="hidden", api_name="list_runs")
    overlay_pick.input(owned(overlay_of), overlay_pick, overlay, show_progress="hidden")
    run.change(clear_warning, message, message, show_progress="hidden", queue=False)  # "pick a run" no longer holds
    resume_btn.click(owned(resume_run), run, message, api_name="resume_run")
    export_btn.click(owned(export_run), run, message, api_name="export_run")
    delete_btn.click(lambda r: (gr.update(visible=bool(r)), "" if r else notice("Pick a run to delete.")), run,
                     [confirm_btn, message])
    confirm_btn.click(owned(delete_run), run, message, api_name="delete_run").then(
        lambda: gr.update(visible=False), None, confirm_btn).then(owned(refresh), overlay_pick, outputs)
    return tab
