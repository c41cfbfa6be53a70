# MAE fine-tuning, ViT-H/14 on ImageNet-1k: the paper's Table 3, 86.9 top-1 (1600-epoch
# pretraining). The ViT-L recipe (base lr 1e-3, layer decay 0.75, 50 epochs), drop path 0.3
# (FINETUNE.md's value; the paper's Table 9 lists 0.2).
# Total batch 1024 = 8 GPUs x 32 x 4 accumulated steps (the official run: 64 V100s x 16).
_base_ = ['finetune_vit-l_in1k.py']
model = dict(
    backbone=dict(arch='h', drop_path_rate=0.3,
                  init_cfg=dict(checkpoint='work_dirs/mae_vit-h_pretrain_1600e/epoch_1600.pth')),
    head=dict(in_channels=1280))
per_gpu = 32
train_dataloader = dict(batch_size=per_gpu)
optim_wrapper = dict(accumulative_counts=_base_.total_batch // (_base_.num_gpus * per_gpu))
