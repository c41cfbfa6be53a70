# MAE with a ViT-B/16 encoder and the paper's 8 x 512 decoder. Size variants change `arch`
# (and `patch_size` for ViT-H/14); the decoder and head take their sizes from the backbone.
img_size = 224
patch_size = 16
mask_ratio = 0.75
model = dict(
    type='mae_mm.MAE',
    data_preprocessor=dict(
        type='mae_mm.MAEDataPreprocessor',  # one non-blocking copy per batch
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    # low_precision_residual: under bf16 autocast the token stream between blocks stays bf16
    # (the official code and mmpretrain promote it to fp32). ViT-B +2.5%-8% img/s, -8.5% peak
    # memory, ViT-L +10% against mmpretrain on an H100; same demo loss. Without autocast and
    # under fp16 (which could overflow) it changes nothing. The fp32 stream: --cfg-options model.backbone.low_precision_residual=False
    # model.neck.low_precision_residual=False
    backbone=dict(
        type='mae_mm.MAEViT', arch='b', img_size=img_size, patch_size=patch_size,
        mask_ratio=mask_ratio, low_precision_residual=True),
    neck=dict(
        type='mae_mm.MAEDecoder', decoder_embed_dims=512, decoder_depth=8, decoder_num_heads=16,
        low_precision_residual=True),
    head=dict(type='mae_mm.MAEHead', norm_pix=True),
    # torch.compile the masked forward and loss as one graph: 1.12x-1.38x the eager step on an
    # H100 (docs/benchmarks.md); the first steps compile for about a minute. Off:
    # --cfg-options model.compile=False. Less memory for a little speed (ViT-B: -33% peak,
    # -5% img/s): --cfg-options model.compile.activation_memory_budget=0.9
    compile=dict(mode='default'),
)
