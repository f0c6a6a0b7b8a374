"""The header: the mode, device, memory in use by the app (process RSS), the resident base model and the job
queue."""

import os

import gradio as gr
import psutil

from playground import resources
from playground.jobs_panel import create_jobs_panel, header_job_text
from playground.workspace import owned
from trainers.mode import public_mode
from trainers.names import scrub

MODES = {"public": "**Public mode**: your own workspace, names instead of paths, server-side limits",
         "local": "**Local mode**: one user, everything visible, server paths allowed"}


def mode_line() -> str:
    return MODES["public" if public_mode() else "local"]


def header_text(owner: str | None = None) -> str:
    rss = psutil.Process().memory_info().rss / 2**20
    home = "" if public_mode() else f" · **Home** `{os.environ.get('PLAYGROUND_HOME', 'outputs')}`"
    warm = scrub(resources.warm_status())
    return (f"**Device** {resources.device_name()} · **App memory** {rss:,.0f} MB · **Base model** "
            f"`{resources.default_base()}` ({warm}) · **Job** {header_job_text(owner)}{home}")


def create_header() -> gr.Markdown:
    with gr.Row(elem_id="header"):
        gr.Markdown("## Post-training playground\nData → SFT → instruction tuning → LoRA/QLoRA, measured on "
                    f"your own machine.\n\n{mode_line()}", elem_id="title")
        status = gr.Markdown(header_text, elem_id="header-status")
    create_jobs_panel()
    timer = gr.Timer(2.0)
    timer.tick(owned(header_text), outputs=status, show_progress="hidden", concurrency_limit=None, queue=False)
    return status
