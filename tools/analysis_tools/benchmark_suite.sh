#!/usr/bin/env bash
# Every figure of docs/benchmarks.md in one command, on the machine it runs on:
#   bash tools/analysis_tools/benchmark_suite.sh [OUT_DIR]
# With CUDA (about 70 minutes, most of it compiling): ViT-B/L/H against mmpretrain (bf16, eager
# and compiled), each optimisation on and off (ViT-B; the fp32 residual stream and the
# short-sequence attention kernel for ViT-L too, also given the decoder's 197 tokens; GELU and
# LayerNorm outputs recomputed in the backward, LayerNorms folded, ViT-B/L/H), ViT-L at batch
# 256 and 384, each attention kernel at MAE's shapes (run name "attention"), Table 2 for ViT-L
# (batch 128 and 256) and ViT-H, the data pipeline. Without CUDA: ViT-B in fp32 against
# mmpretrain (also predicting every patch), Table 2 for ViT-B, the pipeline.
# Then prints the tables (benchmark_report.py). ONLY="name ..." runs just those runs, e.g. to
# fit a short GPU lease: ONLY="l_bf16_compile h_bf16_compile l_table2" bash ...
set -euo pipefail
OUT=${1:-work_dirs/benchmarks}
PY=${PYTHON:-python}
mkdir -p "$OUT"
bench() {
    local name=$1; shift
    if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then return; fi
    echo "== $name"
    "$PY" tools/analysis_tools/benchmark.py "$@" --json "$OUT/$name.json" 2>&1 |
        tee "$OUT/$name.log" | tail -4
}
if "$PY" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())'; then
    B=configs/mae_vit-b_pretrain.py; L=configs/mae_vit-l_pretrain.py; H=configs/mae_vit-h_pretrain.py
    G=(--precision bf16 --steps 10 --rounds 3)
    bench b_bf16 "$B" --batch 256 "${G[@]}" --eager
    bench b_bf16_compile "$B" --batch 256 "${G[@]}" --compile
    bench l_bf16 "$L" --batch 128 "${G[@]}" --eager
    bench l_bf16_compile "$L" --batch 128 "${G[@]}" --compile
    bench h_bf16 "$H" --batch 64 "${G[@]}" --eager
    bench h_bf16_compile "$H" --batch 64 "${G[@]}" --compile
    bench b512_bf16_compile "$B" --batch 512 "${G[@]}" --compile
    bench b_compile_cudagraphs "$B" --batch 256 "${G[@]}" --no-peer --compile reduce-overhead
    bench b_plain_attn "$B" --batch 256 "${G[@]}" --no-peer --eager --plain-attn
    bench b_with_cp "$B" --batch 256 "${G[@]}" --no-peer --eager --with-cp
    bench b_compile_with_cp "$B" --batch 256 "${G[@]}" --no-peer --compile --with-cp
    bench b_compile_predict_all "$B" --batch 256 "${G[@]}" --no-peer --compile --predict-all
    bench b_compile_budget "$B" --batch 256 "${G[@]}" --compile \
        --cfg-options model.compile.activation_memory_budget=0.9
    FP32_STREAM=(--cfg-options model.backbone.low_precision_residual=False
        model.neck.low_precision_residual=False)
    bench b_compile_fp32_residual "$B" --batch 256 "${G[@]}" --compile "${FP32_STREAM[@]}"
    bench l_compile_fp32_residual "$L" --batch 128 "${G[@]}" --compile "${FP32_STREAM[@]}"
    bench l256_bf16_compile "$L" --batch 256 "${G[@]}" --no-peer --compile
    bench b512_no_short_attn "$B" --batch 512 "${G[@]}" --no-peer --compile --no-short-attn
    bench l256_no_short_attn "$L" --batch 256 "${G[@]}" --no-peer --compile --no-short-attn
    # the kernel also for the decoder's 197 tokens (not yet the models' default)
    bench b512_short_attn_256 "$B" --batch 512 "${G[@]}" --no-peer --compile --short-attn-tokens 256
    bench l256_short_attn_256 "$L" --batch 256 "${G[@]}" --no-peer --compile --short-attn-tokens 256
    # memory: GELU's / the LayerNorms' outputs recomputed in the compiled backward
    # (model.compile.recompute_gelu / recompute_norm); mmpretrain's own peak at each batch
    # comes from b512_bf16_compile, l256_bf16_compile_peer and h_bf16_compile
    RG=(--cfg-options model.compile.recompute_gelu=True)
    RA=(--cfg-options model.compile.recompute_gelu=True model.compile.recompute_norm=True)
    # or the LayerNorms folded into qkv / fc1 (model.compile.fold_norm): their inputs are not
    # kept, and nothing is recomputed
    FG=(--cfg-options model.compile.recompute_gelu=True model.compile.fold_norm=True)
    bench b512_recompute_gelu "$B" --batch 512 "${G[@]}" --no-peer --compile "${RG[@]}"
    bench b512_recompute_norm "$B" --batch 512 "${G[@]}" --no-peer --compile \
        --cfg-options model.compile.recompute_norm=True
    bench b512_fold_norm "$B" --batch 512 "${G[@]}" --no-peer --compile \
        --cfg-options model.compile.fold_norm=True
    bench b512_short_attn_256_recompute_gelu "$B" --batch 512 "${G[@]}" --no-peer --compile \
        --short-attn-tokens 256 "${RG[@]}"
    # fc1's bias gradient summed per sample, inside GELU's backward kernel
    # (model.compile.fuse_bias_grad): projected faster, alone and with a memory option
    bench b512_fuse_bias_grad "$B" --batch 512 "${G[@]}" --no-peer --compile \
        --cfg-options model.compile.fuse_bias_grad=True
    bench b512_fold_norm_fuse_bias_grad "$B" --batch 512 "${G[@]}" --no-peer --compile \
        --cfg-options model.compile.fold_norm=True model.compile.fuse_bias_grad=True
    bench l256_recompute_gelu_fuse_bias_grad "$L" --batch 256 "${G[@]}" --no-peer --compile \
        --cfg-options model.compile.recompute_gelu=True model.compile.fuse_bias_grad=True
    bench l256_bf16_compile_peer "$L" --batch 256 "${G[@]}" --compile
    bench l256_recompute_gelu "$L" --batch 256 "${G[@]}" --no-peer --compile "${RG[@]}"
    bench h_recompute_gelu "$H" --batch 64 "${G[@]}" --no-peer --compile "${RG[@]}"
    bench h_recompute_all "$H" --batch 64 "${G[@]}" --no-peer --compile "${RA[@]}"
    bench l256_fold_norm_recompute_gelu "$L" --batch 256 "${G[@]}" --no-peer --compile "${FG[@]}"
    bench h_fold_norm_recompute_gelu "$H" --batch 64 "${G[@]}" --no-peer --compile "${FG[@]}"
    bench l384_bf16_compile "$L" --batch 384 "${G[@]}" --no-peer --compile
    bench b_no_fused_adamw "$B" --batch 256 "${G[@]}" --no-peer --eager --no-fused-adamw
    bench b_tensor_groups "$B" --batch 256 "${G[@]}" --no-peer --eager \
        --cfg-options optim_wrapper.constructor=DefaultOptimWrapperConstructor
    bench b_fp16 "$B" --batch 256 --precision fp16 --steps 8 --rounds 3 --eager
    bench l_table2 "$L" --batch 128 --precision bf16 --steps 4 --rounds 2 --no-peer --compile --table2
    # the visible-only encoder gains more from a larger batch than the mask-token one
    bench l256_table2 "$L" --batch 256 --precision bf16 --steps 6 --rounds 3 --no-peer --compile --table2
    bench h_table2 "$H" --batch 64 --precision bf16 --steps 4 --rounds 2 --no-peer --compile --table2
    bench b_pipeline "$B" --batch 8 --steps 1 --rounds 1 --warmup 1 --no-peer --eager --pipeline
    if [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" attention "* ]]; then
        echo "== attention"  # each attention kernel at MAE's shapes
        "$PY" tools/analysis_tools/attention_benchmark.py --warps 2 8 2>&1 | tee "$OUT/attention.log"
    fi
else
    bench cpu_b_fp32 configs/mae_vit-b_pretrain.py --batch 8 --steps 3 --rounds 3 --eager --pipeline
    bench cpu_b_fp32_predict_all configs/mae_vit-b_pretrain.py --batch 8 --steps 3 --rounds 3 \
        --eager --predict-all
    bench cpu_b_table2 configs/mae_vit-b_pretrain.py --batch 8 --steps 2 --rounds 2 --warmup 1 \
        --no-peer --eager --table2
fi
"$PY" tools/analysis_tools/benchmark_report.py "$OUT"
