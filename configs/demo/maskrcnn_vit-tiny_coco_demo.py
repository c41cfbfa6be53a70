# The detection demo: Mask R-CNN (ViTDet-style) on the 6-block demo ViT (patch 8), fine-tuned
# from the MAE demo pretraining on the synthetic COCO-format shapes set at 128 px. A few
# minutes on 2 CPU cores, fp32:
#   python tools/train.py configs/demo/mae_vit-tiny_pretrain_demo.py      # -> the checkpoint
#   python tools/dataset_tools/make_coco_demo.py data/coco_demo           # -> the data
#   python tools/train.py configs/demo/maskrcnn_vit-tiny_coco_demo.py
#   python tools/test.py configs/demo/maskrcnn_vit-tiny_coco_demo.py \
#       work_dirs/maskrcnn_vit-tiny_coco_demo/iter_600.pth                # -> box / mask AP
_base_ = ['../maskrcnn_vit-b_coco.py']
image_size = (128, 128)
data_root = 'data/coco_demo/'
classes = ('ellipse', 'triangle', 'rectangle', 'star')  # mae_mm.datasets.coco_synthetic.CLASSES
channels = 64  # neck and heads, 256 in the full configs
max_iters = 600

model = dict(
    backbone=dict(
        arch='demo', img_size=image_size, drop_path_rate=0.0, window_size=4,
        global_attn_indexes=(1, 3, 5),
        init_cfg=dict(checkpoint='work_dirs/mae_vit-tiny_pretrain_demo/epoch_200.pth')),
    # patch 8: the ViT's map is at stride 8, so the pyramid rescales by 2 ... 1/4 for strides 4-32
    neck=dict(in_channels=192, out_channels=channels, scales=(2, 1, 0.5, 0.25)),
    rpn_head=dict(in_channels=channels, feat_channels=channels,
                  anchor_generator=dict(scales=[4])),  # anchors of 16-256 px for small objects
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=channels),
        bbox_head=dict(in_channels=channels, conv_out_channels=channels, fc_out_channels=256,
                       num_classes=len(classes)),
        mask_roi_extractor=dict(out_channels=channels),
        mask_head=dict(in_channels=channels, conv_out_channels=channels,
                       num_classes=len(classes))),
    train_cfg=dict(rpn_proposal=dict(nms_pre=500, max_per_img=200),
                   rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=200)))

# the LSJ pipeline at 128 px, milder scale jitter for objects of 20-60 px
train_pipeline = [
    *_base_.train_pipeline[:3],
    dict(_base_.train_pipeline[3], scale=image_size, ratio_range=(0.5, 1.5)),
    dict(_base_.train_pipeline[4], crop_size=image_size),
    _base_.train_pipeline[5],
    dict(_base_.train_pipeline[6], size=image_size),
    _base_.train_pipeline[7],
]
test_pipeline = [
    _base_.test_pipeline[0],
    dict(_base_.test_pipeline[1], scale=image_size),
    dict(_base_.test_pipeline[2], size=image_size),
    *_base_.test_pipeline[3:],
]
dataset = dict(data_root=data_root, metainfo=dict(classes=classes))
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(dataset, pipeline=train_pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(dataset, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

# fp32 on the CPU (bf16 / fp16 autocast is far slower there); a short run at batch 2
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(lr=2e-4))
param_scheduler = [
    dict(_base_.param_scheduler[0], end=50),
    dict(_base_.param_scheduler[1], end=max_iters,
         milestones=[round(max_iters * s) for s in _base_.lr_steps]),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
auto_scale_lr = dict(base_batch_size=2)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
