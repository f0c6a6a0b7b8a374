"""Where the playground keeps its files: `$PLAYGROUND_HOME` (default ./outputs) and the model cache."""

import os
from pathlib import Path


def home() -> Path:
    path = Path(os.environ.get("PLAYGROUND_HOME", "outputs")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def runs_dir() -> Path:
    path = home() / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def jobs_dir() -> Path:
    path = home() / "jobs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def datasets_dir() -> Path:
    path = home() / "datasets"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    path = Path(os.environ.get("PLAYGROUND_CACHE") or home() / "cache").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


REPO = Path(__file__).resolve().parent.parent
ASSETS = REPO / "assets"
CONFIGS = ASSETS / "configs"

