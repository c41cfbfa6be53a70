# ImageNet-1k for fine-tuning, read by mmpretrain's ImageNet dataset: data_root holds
# train/<wnid>/*.JPEG and val/ (class folders, or flat with meta/val.txt: "<file> <label>").
# The official MAE augmentation: RandomResizedCrop (bicubic), flip, RandAugment m9-mstd0.5
# (timm's rand-m9-mstd0.5-inc1), random erasing 0.25 with per-pixel noise; evaluation resizes
# the short side to img_size / crop_pct (256 for 224) and takes the center crop (bicubic).
data_root = 'data/imagenet/'
img_size = 224
crop_pct = 0.875
num_classes = 1000
bgr_mean = [103.53, 116.28, 123.675]
bgr_std = [57.375, 57.12, 58.395]
data_preprocessor = dict(
    num_classes=num_classes, mean=bgr_mean[::-1], std=bgr_std[::-1], to_rgb=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    # mmpretrain's crop with PIL's bicubic filter, resized in torch (twice as fast as 'pillow')
    dict(type='mae_mm.RandomResizedCrop', scale=img_size, interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policies='timm_increasing', num_policies=2, total_level=10,
         magnitude_level=9, magnitude_std=0.5,
         hparams=dict(pad_val=[round(c) for c in bgr_mean], interpolation='bicubic')),
    dict(type='RandomErasing', erase_prob=0.25, mode='rand', min_area_ratio=0.02,
         max_area_ratio=1 / 3, fill_color=bgr_mean, fill_std=bgr_std),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=int(img_size / crop_pct), edge='short', backend='pillow',
         interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=img_size),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=128,  # per GPU: 8 GPUs x 128 = 1024, the recipe's total batch
    num_workers=10,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='ImageNet', data_root=data_root, split='train', pipeline=train_pipeline),
)
val_dataloader = dict(
    batch_size=128,
    num_workers=10,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ImageNet', data_root=data_root, split='val', pipeline=test_pipeline),
)
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
