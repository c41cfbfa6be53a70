#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install the pinned
# OpenMMLab stack into it. Idempotent: a second run only checks what is there.
#
#   bash tools/install.sh            # runtime + test dependencies
#
# Facts behind the pins (see README "Install"): torch and torchvision are pinned in every pip call
# through a constraints file, mmcv 2.1.0 is the newest release mmdet 3.3 / mmseg 1.2 accept and is
# built from source with its ops against the installed torch (C++20 for torch >= 2.14 headers).
# A wheel of exactly that build in $MAE_MM_WHEELS (default ../shared/wheels) is used when present.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${MAE_MM_VENV:-$ROOT/.venv}
WHEELS=${MAE_MM_WHEELS:-$ROOT/../shared/wheels}
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
CONSTRAINTS=$ROOT/requirements/constraints.txt

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
pip_() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@"; }
stamp="$VENV/.mae_mm_installed"
want=$(cat "$CONSTRAINTS" "$ROOT/requirements/runtime.txt" "$ROOT/requirements/tests.txt" "$ROOT/setup.py" | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

pip_ install -c "$CONSTRAINTS" "setuptools==80.9.0" wheel
pip_ install -c "$CONSTRAINTS" torch torchvision

# mmcv with its compiled ops present? (checked by file: importing mmcv.ops needs mmengine)
has_mmcv_ops() {
  "$VENV/bin/python" - <<'PY' 2>/dev/null
import glob, importlib.util, os, sys
spec = importlib.util.find_spec('mmcv')
sys.exit(0 if spec and glob.glob(os.path.join(os.path.dirname(spec.origin), '_ext*.so')) else 1)
PY
}
if ! has_mmcv_ops; then
  if [ -d "$WHEELS" ] && ls "$WHEELS"/mmcv-2.1.0-*.whl >/dev/null 2>&1; then
    pip_ install -c "$CONSTRAINTS" --no-deps --find-links "$WHEELS" --no-index mmcv==2.1.0 || true
  fi
  if ! has_mmcv_ops; then
    echo "building mmcv 2.1.0 with ops from source (about 15 minutes on 2 cores)..."
    build=$(mktemp -d)
    pip_ download --no-deps --no-binary :all: -d "$build" mmcv==2.1.0
    tar -xzf "$build"/mmcv-2.1.0.tar.gz -C "$build"
    sed -i 's/-std=c++17/-std=c++20/g' "$build"/mmcv-2.1.0/setup.py
    pip_ install -c "$CONSTRAINTS" ninja
    (cd "$build"/mmcv-2.1.0 && MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=2 \
      "$VENV/bin/python" -m pip --disable-pip-version-check -q install -c "$CONSTRAINTS" \
      --no-build-isolation --no-deps .)
    rm -rf "$build"
  fi
fi

pip_ install -c "$CONSTRAINTS" -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt"
pip_ install -c "$CONSTRAINTS" --no-deps --no-build-isolation -e "$ROOT"
"$VENV/bin/python" -c "import torch, mmcv.ops, mmengine, mmpretrain, mmdet, mmseg, mae_mm"
echo "$want" > "$stamp"
