#!/usr/bin/env bash
# Run tests on the CPU under another torch release than .venv's, e.g. the GPU machine's, before
# a GPU lease spends minutes finding what a CPU finds too (torch 2.11's compile zeroed the
# gradient through fold_norm's normalize; docs/benchmarks.md):
#
#   bash tools/test_other_torch.sh 2.11.0 tests/test_models tests/test_engine
#
# Downloads that torch's wheel with the Triton it requires and the matching torchvision (about
# 1 GB, once, into .other_torch/VERSION) and puts them before .venv's on PYTHONPATH; .venv is
# not changed. mmcv's compiled ops are built for .venv's torch and cannot load, so mmcv is
# used without them: mmdet / mmseg tests fail on a missing mmcv._ext, everything else runs.
# The torch wheel needs the CUDA libraries .venv has (its CUDA major version, 13 for 2.14.1).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 TORCH_VERSION [pytest arguments]" >&2; exit 2; }
version=$1
shift
dir=.other_torch/$version
py=.venv/bin/python
[ -x "$py" ] || bash tools/install.sh

if [ ! -e "$dir/site/torch/__init__.py" ]; then
    mkdir -p "$dir/wheels"
    "$py" -m pip download -q --no-deps -d "$dir/wheels" "torch==$version"
    metadata=$(unzip -p "$dir"/wheels/torch-*.whl '*.dist-info/METADATA')
    triton=$(sed -n 's/^Requires-Dist: triton==\([0-9.]*\).*/\1/p' <<<"$metadata")
    minor=$(cut -d. -f2 <<<"$version")
    patch=$(cut -d. -f3 <<<"$version")
    # torchvision 0.(minor + 15) goes with torch 2.minor
    "$py" -m pip download -q --no-deps -d "$dir/wheels" "triton==$triton" \
        "torchvision==0.$((minor + 15)).${patch:-0}"
    "$py" -m pip install -q --no-deps --no-compile --target "$dir/site" "$dir"/wheels/*.whl
fi
if [ ! -d "$dir/mmcv_no_ops/mmcv" ]; then
    mkdir -p "$dir/mmcv_no_ops"
    cp -r "$("$py" -c 'import mmcv, os; print(os.path.dirname(mmcv.__file__))')" \
        "$dir/mmcv_no_ops/"
    rm -f "$dir"/mmcv_no_ops/mmcv/_ext*.so
fi

export PYTHONPATH="$PWD/$dir/mmcv_no_ops:$PWD/$dir/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
"$py" -c 'import torch, triton; print(f"torch {torch.__version__}, Triton {triton.__version__}")'
exec "$py" -m pytest -q -ra -p no:cacheprovider "$@"
