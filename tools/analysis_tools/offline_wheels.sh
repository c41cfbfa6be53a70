#!/usr/bin/env bash
# Wheels to run the benchmarks on a GPU machine that has PyTorch but no internet (a cluster
# node, a lent box): mmengine, mmpretrain, mmcv without compiled ops (MAE pretraining needs
# none) and the small pure-Python packages they import that a PyTorch image usually lacks.
# Run where pip reaches an index, for the GPU machine's Python:
#   bash tools/analysis_tools/offline_wheels.sh WHEEL_DIR [PYTHON_VERSION]   # default 3.12
# then there, from the repository root:
#   python3 -m pip install --no-index --no-deps --target /tmp/site WHEEL_DIR/*.whl
#   PYTHONPATH=/tmp/site:. PYTHON=python3 bash tools/analysis_tools/benchmark_suite.sh
set -euo pipefail
OUT=${1:?usage: offline_wheels.sh WHEEL_DIR [PYTHON_VERSION]}
PYVER=${2:-3.12}
# the project's environment (tools/install.sh) by default: building mmcv's sdist needs a
# setuptools that still has pkg_resources, which a bare system Python may lack
PY=${PYTHON:-$(cd "$(dirname "$0")/../.." && pwd)/.venv/bin/python}
[ -x "$PY" ] || PY=python3
mkdir -p "$OUT"
# importlib_metadata 8.7 (mmpretrain's need; 10.x adds a dependency), model-index is
# mmpretrain's "modelindex"
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version "$PYVER" \
    --implementation py -d "$OUT" mmengine==0.10.7 mmpretrain==1.2.0 addict termcolor yapf \
    platformdirs mat4py model-index==0.1.11 ordered-set importlib_metadata==8.7.0
# mmcv 2.1.0 has no wheel on PyPI: its sdist built without ops is pure Python (mmcv-lite)
SDIST=$(mktemp -d)
"$PY" -m pip download -q --no-deps --no-binary=:all: -d "$SDIST" mmcv==2.1.0
MMCV_WITH_OPS=0 "$PY" -m pip wheel -q --no-deps --no-build-isolation -w "$OUT" \
    "$SDIST"/mmcv-2.1.0.tar.gz
rm -rf "$SDIST"
ls "$OUT"
