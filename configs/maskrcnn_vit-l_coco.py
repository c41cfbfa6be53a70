# Mask R-CNN, MAE ViT-L/16, ViTDet recipe (simple feature pyramid, LSJ 1024, 100 epochs):
# the target is ViTDet's: 55.5 box AP / 49.2 mask AP (detectron2 model zoo).
#   bash tools/dist_train.sh configs/maskrcnn_vit-l_coco.py 16
_base_ = ['maskrcnn_vit-b_coco.py']
model = dict(
    backbone=dict(arch='l', drop_path_rate=0.4, global_attn_indexes=(5, 11, 17, 23),
                  init_cfg=dict(checkpoint='checkpoints/mae_pretrain_vit_large.pth')),
    neck=dict(in_channels=1024))
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.8))
