# MAE ViT-B/16 -> UperNet on ADE20K, 512 x 512, 160k iterations at total batch 16:
# the paper's Table 5 reports 48.1 mIoU (single-scale, sliding window).
#   bash tools/dist_train.sh configs/upernet_vit-b_ade20k.py 8 \
#       --cfg-options model.backbone.init_cfg.checkpoint=PRETRAIN.pth
# PRETRAIN.pth: a mae_mm pretraining checkpoint (e.g. work_dirs/mae_vit-b_pretrain_1600e/
# epoch_1600.pth) or the official mae_pretrain_vit_base.pth, loaded strictly as they are.
_base_ = [
    '_base_/models/upernet_mae_vit.py',
    '_base_/datasets/ade20k.py',
    '_base_/schedules/upernet_ade20k_160k.py',
    '_base_/seg_runtime.py',
]
