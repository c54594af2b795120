#!/usr/bin/env bash
# Create .venv and install infoscrub into it (with test tools and the bulk, identity and video extras when given --test).
# PyTorch comes first, pinned to the builds this workplace serves from local disk.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
if [ "${1:-}" = "--test" ]; then
  .venv/bin/python -m pip install -q -e ".[test,bulk,identity,video]"
else
  .venv/bin/python -m pip install -q -e .
fi
echo "infoscrub installed in .venv ($(.venv/bin/infoscrub --version))"
