# MAE linear probing, ViT-B/16 on ImageNet-1k: 68.0 top-1 from the 1600-epoch pretraining
# (configs/mae_vit-b_pretrain_1600e.py). Frozen encoder, class token, BatchNorm without
# affine, linear head; LARS, 90 epochs, total batch 16384 (8 GPUs x 2048):
#   bash tools/dist_train.sh configs/linprobe_vit-b_in1k.py 8 \
#       --cfg-options model.backbone.init_cfg.checkpoint=PRETRAINED.pth
_base_ = [
    '_base_/models/mae_vit-b_linprobe_in1k.py',
    '_base_/datasets/in1k_linprobe.py',
    '_base_/schedules/in1k_linprobe.py',
    '_base_/default_runtime.py',
]
