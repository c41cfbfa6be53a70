# ImageNet-1k for MAE pretraining, read by mmpretrain's ImageNet dataset.
# data_root holds the usual layout: train/n01440764/*.JPEG ... (labels are not used), or
# meta/train.txt + train/ (set ann_file). Any folder of images works through
# dataset=dict(type='CustomDataset', data_root=..., with_label=False); see README.
# The masking transform must agree with the model: `patch_size`, `mask_ratio` and the crop size
# come from configs/_base_/models/mae_vit.py (a mismatch is reported at the first step).
_base_ = ['../models/mae_vit.py']
data_root = 'data/imagenet/'
# SeededSampler + SeedSample: each sample's crop, flip and mask depend only on (seed, epoch,
# index), so resumed, multi-worker and multi-process runs see exactly the same data.
train_pipeline = [
    dict(type='mae_mm.SeedSample'),
    dict(type='mae_mm.LoadImageFromFile'),  # names unreadable files; skip_corrupt=True skips them
    # mmpretrain's crop, resized in torch with PIL's bicubic filter: twice as fast as 'pillow'
    dict(type='mae_mm.RandomResizedCrop', scale={{_base_.img_size}}, crop_ratio_range=(0.2, 1.0),
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mae_mm.RandomMasking', patch_size={{_base_.patch_size}},
         mask_ratio={{_base_.mask_ratio}}),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=512,  # per GPU: 8 GPUs x 512 = 4096, the paper's batch
    num_workers=16,
    persistent_workers=True,
    pin_memory=True,
    prefetch_factor=4,
    drop_last=True,  # as the official code; every step has the compiled batch shape
    sampler=dict(type='mae_mm.SeededSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='ImageNet', data_root=data_root, split='train', pipeline=train_pipeline),
)
