# MAE fine-tuning, ViT-B/16 on ImageNet-1k: the paper's Table 3, 83.6 top-1 from the
# 1600-epoch pretraining (configs/mae_vit-b_pretrain_1600e.py). 100 epochs, total batch 1024
# (8 GPUs x 128; other totals: --auto-scale-lr):
#   bash tools/dist_train.sh configs/finetune_vit-b_in1k.py 8 \
#       --cfg-options model.backbone.init_cfg.checkpoint=PRETRAINED.pth
_base_ = [
    '_base_/models/mae_vit-b_finetune_in1k.py',
    '_base_/datasets/in1k_finetune.py',
    '_base_/schedules/in1k_finetune.py',
    '_base_/default_runtime.py',
]
