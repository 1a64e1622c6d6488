#!/usr/bin/env bash
# The backend conformance suite: one command.
#
#   bash tests/backends/run.sh [--cases N] [--only PROFILE ...]
#
# Creates (once) a virtual environment .venv-backends/ at the repository root with CPU builds of
# onnxruntime, torch, tensorflow-cpu and jax (tests/backends/requirements.txt), installs refquant
# from this checkout into it, runs every profile's checkers against the real operations and writes
# docs/CONFORMANCE.md and refquant/_profile_evidence.json. Exit status 1 if a row that should conform
# diverges, or a documented backend divergence no longer reproduces.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${REFQUANT_BACKENDS_VENV:-$ROOT/.venv-backends}"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
fi
"$VENV/bin/pip" install -q -r "$ROOT/tests/backends/requirements.txt"
"$VENV/bin/pip" install -q -e "$ROOT"
cd "$ROOT"
export TF_CPP_MIN_LOG_LEVEL=3 REFQUANT_BACKENDS=1
exec "$VENV/bin/python" "$ROOT/tests/backends/suite.py" "$@"
