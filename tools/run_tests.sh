#!/usr/bin/env bash
# Install (first run only) and run the test suite, end-to-end runs included.
# Extra arguments go to pytest, e.g. `bash tools/run_tests.sh -m "not slow"` for the fast part.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install.sh
exec .venv/bin/python -m pytest -q -ra "$@"
