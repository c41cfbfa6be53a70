# MAE fine-tuning, ViT-L/16 on ImageNet-1k: the paper's Table 3, 85.9 top-1 (1600-epoch
# pretraining). The ViT-B recipe with base lr 1e-3, layer decay 0.75, drop path 0.2, 50 epochs
# (FINETUNE.md's values for the released checkpoints; the paper's Table 9 lists drop path 0.1).
# Total batch 1024 = 8 GPUs x 64 x 2 accumulated steps (the official run: 32 V100s x 32).
_base_ = ['finetune_vit-b_in1k.py']
model = dict(
    backbone=dict(arch='l', drop_path_rate=0.2,
                  init_cfg=dict(checkpoint='work_dirs/mae_vit-l_pretrain_1600e/epoch_1600.pth')),
    head=dict(in_channels=1024))
base_lr = 1e-3
lr = base_lr * _base_.total_batch / 256
per_gpu = 64
optim_wrapper = dict(optimizer=dict(lr=lr), paramwise_cfg=dict(layer_decay_rate=0.75),
                     accumulative_counts=_base_.total_batch // (_base_.num_gpus * per_gpu))
param_scheduler = [
    _base_.param_scheduler[0],
    dict(_base_.param_scheduler[1], eta_min_ratio=_base_.min_lr / lr),
]
train_cfg = dict(max_epochs=50)
train_dataloader = dict(batch_size=per_gpu)
