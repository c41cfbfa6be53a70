# Mask R-CNN, MAE ViT-B/16, ViTDet recipe (simple feature pyramid, LSJ 1024, 100 epochs):
# the target is ViTDet's: 51.6 box AP / 45.9 mask AP on COCO val2017 (detectron2 model zoo).
#   bash tools/dist_train.sh configs/maskrcnn_vit-b_coco.py 16   (16 GPUs x 4 images)
#   bash tools/dist_test.sh configs/maskrcnn_vit-b_coco.py work_dirs/.../iter_184375.pth 8
# The backbone loads a MAE pretraining checkpoint strictly: a mae_mm one (work_dirs/...
# /epoch_1600.pth) or the official mae_pretrain_vit_base.pth; set its path here or with
# --cfg-options model.backbone.init_cfg.checkpoint=PATH.
_base_ = [
    '_base_/models/mask-rcnn_vitdet.py',
    '_base_/datasets/coco_instance_lsj.py',
    '_base_/schedules/vitdet_lsj_100e.py',
    '_base_/det_runtime.py',
]
model = dict(backbone=dict(
    img_size=_base_.image_size,
    drop_path_rate=0.1,
    init_cfg=dict(type='Pretrained', checkpoint='checkpoints/mae_pretrain_vit_base.pth')))
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.7))
train_dataloader = dict(batch_size=_base_.total_batch // _base_.num_gpus)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=_base_.val_interval,
                                     save_last=True, max_keep_ckpts=3))
log_processor = dict(by_epoch=False)
