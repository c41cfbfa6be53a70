#!/usr/bin/env bash
# The built-in demo: install (first run only), pretrain a tiny MAE on real photographs that ship
# with scikit-image / scikit-learn for a few minutes on the CPU, write reconstruction figures.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install.sh
WORK_DIR=${WORK_DIR:-work_dirs/mae_vit-tiny_pretrain_demo}  # where the downstream demos look
.venv/bin/python tools/train.py configs/demo/mae_vit-tiny_pretrain_demo.py --work-dir "$WORK_DIR" "$@"
last=$(cat "$WORK_DIR/last_checkpoint")
.venv/bin/python tools/analysis_tools/visualize_reconstruction.py \
  configs/demo/mae_vit-tiny_pretrain_demo.py "$last" --out "$WORK_DIR/reconstruction.png"
echo
echo "checkpoint:      ${last#"$PWD"/}"
echo "reconstructions: $WORK_DIR/reconstruction.png (and $WORK_DIR/vis/epoch_*.png during training)"
echo "training log:    $(ls -d "$WORK_DIR"/2*/ | tail -n 1)"
