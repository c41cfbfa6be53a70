# The official MAE fine-tuning schedule (ViT-B; the repository's FINETUNE.md, whose settings
# for the released norm-pix checkpoints differ slightly from the paper's Table 9: base lr 5e-4
# and layer decay 0.65 there, 1e-3 and 0.75 in the paper): AdamW (0.9, 0.999), wd 0.05,
# lr = 5e-4 x total batch / 256 with layer-wise decay 0.65 (block i at
# lr x 0.65^(13 - i), embeddings at lr x 0.65^13), 5 warm-up epochs then cosine to
# 1e-6 (scaled per layer like the lr), 100 epochs, total batch 1024. No weight decay on
# norms, biases, class token and position embedding (the constructor's rule).
# fp32 by default; add --amp on GPUs (bf16 autocast).
num_gpus = 8
total_batch = 1024
base_lr = 5e-4
min_lr = 1e-6
lr = base_lr * total_batch / 256
max_epochs = 100
warmup_epochs = 5
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=lr, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='mae_mm.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.65),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    # ends at train_cfg.max_epochs (the Runner's default `end`)
    dict(type='CosineAnnealingLR', eta_min_ratio=min_lr / lr, by_epoch=True,
         begin=warmup_epochs, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
# --auto-scale-lr rescales the lr when the real total batch differs from the recipe's
auto_scale_lr = dict(base_batch_size=total_batch)
