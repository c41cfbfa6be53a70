# ImageNet-1k for linear probing: the fine-tuning data with the official linear-probe
# augmentation (RandomResizedCrop (bicubic) and flip only), total batch 16384.
_base_ = ['in1k_finetune.py']
train_pipeline = [*_base_.train_pipeline[:3], dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=2048,  # per GPU: 8 GPUs x 2048 = 16384, the recipe's total batch
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=256)
test_dataloader = val_dataloader
