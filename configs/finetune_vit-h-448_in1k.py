# MAE fine-tuning, ViT-H/14 at 448 px on ImageNet-1k: the paper's Table 3, 87.8 top-1.
# The ViT-H recipe on 448-px crops (evaluation: resize 512, center crop 448); the
# checkpoint's 16x16 position embedding is resized bicubically to 32x32 when it loads.
# 4x the tokens: total batch 1024 = 8 GPUs x 8 x 16 accumulated steps.
_base_ = ['finetune_vit-h_in1k.py']
img_size = 448
model = dict(backbone=dict(img_size=img_size))
train_pipeline = [
    *_base_.train_pipeline[:1],
    dict(_base_.train_pipeline[1], scale=img_size),
    *_base_.train_pipeline[2:],
]
test_pipeline = [
    *_base_.test_pipeline[:1],
    dict(_base_.test_pipeline[1], scale=int(img_size / _base_.crop_pct)),
    dict(_base_.test_pipeline[2], crop_size=img_size),
    *_base_.test_pipeline[3:],
]
per_gpu = 8
train_dataloader = dict(batch_size=per_gpu, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(accumulative_counts=_base_.total_batch // (_base_.num_gpus * per_gpu))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
