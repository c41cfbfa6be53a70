# COCO 2017 instance segmentation with ViTDet's large-scale jitter (LSJ): resize by 0.1-2.0,
# crop / pad to 1024 x 1024, flip; test images are resized and padded to 1024 x 1024.
# Expected under data_root (the official download, unzipped):
#   data/coco/annotations/instances_train2017.json, instances_val2017.json
#   data/coco/train2017/*.jpg, data/coco/val2017/*.jpg
# (a symlink data/coco -> your copy works; or override data_root and the evaluators' ann_file).
dataset_type = 'CocoDataset'
data_root = 'data/coco/'
image_size = (1024, 1024)
scale_range = (0.1, 2.0)
pad_val = dict(img=(114, 114, 114))
backend_args = None

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomResize', scale=image_size, ratio_range=scale_range, keep_ratio=True),
    dict(type='RandomCrop', crop_type='absolute_range', crop_size=image_size,
         recompute_bbox=True, allow_negative_crop=True),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='Pad', size=image_size, pad_val=pad_val),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='Pad', size=image_size, pad_val=pad_val),  # the grid the backbone trained on
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]

train_dataloader = dict(
    batch_size=4,  # per GPU: 16 GPUs x 4 = the recipe's total batch of 64
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='annotations/instances_train2017.json',
                 data_prefix=dict(img='train2017/'),
                 filter_cfg=dict(filter_empty_gt=True, min_size=32),
                 pipeline=train_pipeline, backend_args=backend_args))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='annotations/instances_val2017.json',
                 data_prefix=dict(img='val2017/'), test_mode=True,
                 pipeline=test_pipeline, backend_args=backend_args))
test_dataloader = val_dataloader

# pycocotools' COCOeval: box and mask AP
val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_val2017.json',
                     metric=['bbox', 'segm'], format_only=False, backend_args=backend_args)
test_evaluator = val_evaluator
