# MAE fine-tuning, ViT-H/14 on ImageNet-1k: the paper's Table 3, 86.9 top-1 (1600-epoch
# pretraining). The ViT-L recipe (base lr 1e-3, layer decay 0.75, 50 epochs), drop path 0.3.
_base_ = ['finetune_vit-l_in1k.py']
model = dict(
    backbone=dict(arch='h', drop_path_rate=0.3,
                  init_cfg=dict(checkpoint='work_dirs/mae_vit-h_pretrain_1600e/epoch_1600.pth')),
    head=dict(in_channels=1280))
