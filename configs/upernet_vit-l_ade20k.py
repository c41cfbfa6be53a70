# MAE ViT-L/16 -> UperNet on ADE20K: the paper's Table 5 reports 53.6 mIoU. Same recipe as
# ViT-B; blocks 7, 11, 15, 23 feed the pyramid. The paper searched the lr per entry of
# Table 5; 1e-4 with layer decay 0.65 is the shared starting point.
#   bash tools/dist_train.sh configs/upernet_vit-l_ade20k.py 8 \
#       --cfg-options model.backbone.init_cfg.checkpoint=PRETRAIN.pth
_base_ = ['upernet_vit-b_ade20k.py']
embed_dims = 1024
model = dict(
    backbone=dict(
        arch='l',
        out_indices=(7, 11, 15, 23),
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint='pretrain/mae_pretrain_vit_large.pth')),
    neck=dict(embed_dim=embed_dims),
    decode_head=dict(in_channels=[embed_dims] * 4, channels=embed_dims),
    auxiliary_head=dict(in_channels=embed_dims))
