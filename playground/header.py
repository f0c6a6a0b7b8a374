"""The header: device, memory in use (process RSS), the resident base model and the training job's state."""

import os

import gradio as gr
import psutil

from playground import state


def header_text() -> str:
    from trainers import runs
    from trainers.jobs import RUNNER

    rss = psutil.Process().memory_info().rss / 2**20
    active = RUNNER.active()
    if active:
        step, total = RUNNER.progress
        job = f"training `{active}` (step {step}/{total or '?'})"
    else:
        job = "idle"
        last = RUNNER.run_id
        if last:
            try:
                job += f" · last run `{last}` {runs.read_run(last).get('status')}"
            except (OSError, ValueError):
                pass
    home = os.environ.get("PLAYGROUND_HOME", "outputs")
    return (f"**Device** {state.device_name()} · **Memory in use** {rss:,.0f} MB · **Base model** "
            f"`{state.default_base()}` ({state.warm_status()}) · **Training job** {job} · **Home** `{home}`")


def create_header() -> gr.Markdown:
    with gr.Row(elem_id="header"):
        gr.Markdown("## Post-training playground\nData → SFT → instruction tuning → LoRA/QLoRA, measured on "
                    "your own machine.", elem_id="title")
        status = gr.Markdown(header_text, elem_id="header-status")
    timer = gr.Timer(2.0)
    timer.tick(header_text, outputs=status, show_progress="hidden", concurrency_limit=None, queue=False)
    return status
