"""Time from `python app.py` to the first HTTP 200 on its port."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench.common import emit

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_app_start(timeout_s: float = 120) -> float | None:
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False"}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - started < timeout_s:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
                    if response.status == 200:
                        return emit("app_start_s", time.perf_counter() - started, "s", target="<= 6")["value"]
            except OSError:
                time.sleep(0.05)
        return None
    finally:
        proc.terminate()
        proc.wait(timeout=30)
