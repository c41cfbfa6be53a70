# The paper's pretraining recipe: AdamW (0.9, 0.95), wd 0.05, lr = 1.5e-4 x total batch / 256,
# 40 warm-up epochs then cosine to 0, 800 epochs, total batch 4096, bf16 mixed precision.
# Norms, biases, tokens and position embeddings get no weight decay, as in mmpretrain (the
# official code exempts only 1-D tensors and biases, so it decays cls_token and mask_token).
# bf16 runs without a loss scaler (mae_mm.AmpOptimWrapper) and AdamW uses its fused kernel on a
# few parameter groups (merged by setting) instead of one per tensor
# (mae_mm.GroupedOptimWrapperConstructor).
num_gpus = 8
total_batch = 4096
base_lr = 1.5e-4
max_epochs = 800
warmup_epochs = 40
optim_wrapper = dict(
    type='mae_mm.AmpOptimWrapper',
    dtype='bfloat16',
    optimizer=dict(type='AdamW', lr=base_lr * total_batch / 256, betas=(0.9, 0.95),
                   weight_decay=0.05, fused=True),
    constructor='mae_mm.GroupedOptimWrapperConstructor',
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys=dict(pos_embed=dict(decay_mult=0.0), cls_token=dict(decay_mult=0.0),
                         mask_token=dict(decay_mult=0.0))),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=0.0, by_epoch=True,
         begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
# --auto-scale-lr rescales the lr when the real total batch differs from the paper's
auto_scale_lr = dict(base_batch_size=total_batch)
