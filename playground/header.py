"""The header: device, memory in use by the app (process RSS), the resident base model and the job queue."""

import os

import gradio as gr
import psutil

from playground import resources
from playground.jobs_panel import create_jobs_panel, header_job_text


def header_text() -> str:
    rss = psutil.Process().memory_info().rss / 2**20
    home = os.environ.get("PLAYGROUND_HOME", "outputs")
    return (f"**Device** {resources.device_name()} · **App memory** {rss:,.0f} MB · **Base model** "
            f"`{resources.default_base()}` ({resources.warm_status()}) · **Job** {header_job_text()} · "
            f"**Home** `{home}`")


def create_header() -> gr.Markdown:
    with gr.Row(elem_id="header"):
        gr.Markdown("## Post-training playground\nData → SFT → instruction tuning → LoRA/QLoRA, measured on "
                    "your own machine.", elem_id="title")
        status = gr.Markdown(header_text, elem_id="header-status")
    create_jobs_panel()
    timer = gr.Timer(2.0)
    timer.tick(header_text, outputs=status, show_progress="hidden", concurrency_limit=None, queue=False)
    return status
