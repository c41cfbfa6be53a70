# MAE ViT-H/14, 800 epochs on ImageNet-1k (8 GPUs x 128 x 4 accumulated steps = 4096).
# Patch 14 changes the patch grid (16 x 16), so the masking transform follows the model.
_base_ = ['mae_vit-b_pretrain.py']
patch_size = 14
model = dict(backbone=dict(arch='h', patch_size=patch_size))
train_pipeline = [
    *_base_.train_pipeline[:4],
    dict(_base_.train_pipeline[4], patch_size=patch_size),  # the masking step
    *_base_.train_pipeline[5:],
]
train_dataloader = dict(batch_size=128, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(accumulative_counts=_base_.total_batch // (_base_.num_gpus * 128))
