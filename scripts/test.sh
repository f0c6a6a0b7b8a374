#!/usr/bin/env bash
# Sets up (packages, embedded model, chromium) and runs the whole test suite offline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
python -m pytest -q --durations=15 "$@"
