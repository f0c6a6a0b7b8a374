"""The Gradio UI of the playground: one module per tab, each with a create_<tab>_tab() that builds components and
wires them to plain functions in trainers/ and evalsuite/. No training logic lives here.

    from playground import build_app
    build_app().queue().launch()        # or: python app.py

Nothing here imports torch at import time; models load lazily (and in the background at launch, see resources.py).
"""

import gradio as gr

from playground.chat_tab import create_chat_tab
from playground.compare_tab import create_compare_tab
from playground.data_tab import create_data_tab
from playground.evaluate_tab import create_evaluate_tab
from playground.header import create_header
from playground.lesson_tab import create_lesson_tab, run_of_job
from playground.paraphrase_tab import create_paraphrase_tab
from playground.runs_tab import create_runs_tab
from playground.train_tab import create_train_tab
from playground.workspace import create_workspace
from trainers import caps
from trainers.mode import public_mode

CSS = """
#header { align-items: center; }
#header-status { font-size: 0.9em; text-align: right; }
.stage-note { border-left: 4px solid #6366f1; padding: 4px 10px; background: rgba(99, 102, 241, 0.06); }
.pg-progress { width: 100%; height: 14px; background: #e5e7eb; border-radius: 7px; overflow: hidden; }
.pg-bar { height: 100%; background: #6366f1; transition: width 0.6s; }
.pg-bar.pg-completed { background: #16a34a; } .pg-bar.pg-failed { background: #dc2626; }
.pg-bar.pg-cancelled, .pg-bar.pg-interrupted { background: #d97706; }
.pg-progress-text { font-size: 0.9em; margin-top: 4px; }
.pg-cards { display: flex; gap: 12px; flex-wrap: wrap; }
.pg-card { flex: 1 1 260px; border: 1px solid #d1d5db; border-radius: 8px; padding: 8px 12px; min-width: 240px; }
.pg-card-title { font-weight: 600; font-size: 0.85em; margin-bottom: 6px; word-break: break-all; }
.pg-card-body { white-space: pre-wrap; font-size: 0.9em; margin: 0; max-height: 320px; overflow: auto; }
"""


# The actions other programs (gradio_client, tests, benchmarks) may call; every other event is UI plumbing and is
# kept out of the API page.
PUBLIC_APIS = {"start_training", "cancel_training", "estimate_training", "resume_run", "export_run", "delete_run",
               "switch_model", "chat", "compare", "paraphrase_test", "run_eval", "reproduce_seed", "cancel_job",
               "resume_job", "prepare_lesson", "live_retrain", "list_runs", "list_jobs", "load_dataset",
               "upload_dataset", "save_dataset", "build_pairs"}


def build_app() -> gr.Blocks:
    with gr.Blocks(title="Post-training playground") as demo:
        workspace_loaded = create_workspace(demo)
        create_header()
        with gr.Tabs():
            lesson = create_lesson_tab()
            data = create_data_tab()
            train = create_train_tab()
            create_runs_tab()
            chat = create_chat_tab()
            create_compare_tab(chat["base_model"])
            create_paraphrase_tab(chat["base_model"])
            evaluate = create_evaluate_tab(chat["base_model"])
        # a live retrain from the Lesson tab is what this page's Train tab follows next
        lesson["live_click"].then(run_of_job, lesson["live_job"], train["watched"], show_progress="hidden")
        for attach, attach_in, attach_out in (train["attach"], evaluate["attach"], lesson["attach"], data["attach"]):
            # re-attach to this workspace's jobs on (re)load, once the page knows its workspace
            workspace_loaded.then(attach, attach_in, attach_out, show_progress="hidden")
    for fn in demo.fns.values():
        if fn.api_name not in PUBLIC_APIS:
            fn.api_visibility = "private"
    return demo


def launch_kwargs() -> dict:
    """theme/css go to launch() in Gradio 6; GRADIO_SERVER_NAME / GRADIO_SERVER_PORT are read by Gradio itself. The
    upload cap is Gradio's own max_file_size, enforced as the upload arrives. In public mode an unexpected error
    reaches the visitor as Gradio's generic message, not its text (which can name server paths)."""
    upload_mb = caps.limit("upload_mb")
    return {"theme": gr.themes.Soft(), "css": CSS, "show_error": not public_mode(),
            "max_file_size": None if upload_mb is None else int(upload_mb * 2**20)}
