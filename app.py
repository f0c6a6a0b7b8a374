"""The post-training playground: one Gradio app (also a Hugging Face Space entry point).

    python app.py                                   # http://127.0.0.1:7860
    PLAYGROUND_BASE_MODEL=tiny PLAYGROUND_HOME=/tmp/pg GRADIO_SERVER_PORT=7861 python app.py

The page is served within seconds: torch, transformers and the base model load in a background thread.
"""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no phone-home from an offline machine or a Space

from playground import build_app, launch_kwargs  # noqa: E402
from playground.resources import start_warm_up  # noqa: E402

demo = build_app()

if __name__ == "__main__":
    from evalsuite.sandbox import code_refusal, sandbox_status
    from trainers.mode import mode

    print(f"Mode: {mode()}. Code sandbox: {sandbox_status()['summary']}"
          + (f" ({code_refusal()})" if code_refusal() else ""), flush=True)
    start_warm_up()
    demo.queue(default_concurrency_limit=2).launch(**launch_kwargs())
