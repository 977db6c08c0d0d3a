#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh), then trains a small model with fusedact modules and
# with torch.nn and prints parity and speed (examples/demo.py). Extra arguments go to the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. .venv/bin/activate
python examples/demo.py "$@"
