# Mask R-CNN on a plain ViT (ViTDet, Li et al. 2022): mae_mm's MAEViT with window attention
# (global in four evenly spaced blocks), zero-initialised decomposed relative positions, the
# last stride-16 map through a simple feature pyramid; LayerNorm in the neck and heads,
# 2 convs in the RPN head, 4 convs + 1 fc in the box head. Sizes are ViT-B's.
_base_ = ['mmdet::_base_/models/mask-rcnn_r50_fpn.py']
norm_cfg = dict(type='mae_mm.LN2d', eps=1e-6)
model = dict(
    backbone=dict(
        _delete_=True,
        type='mae_mm.MAEViT',
        arch='b',
        img_size=1024,
        drop_path_rate=0.1,
        out_type='featmap',
        out_indices=-1,
        final_norm=False,
        with_cls_token=False,
        pos_embed_trainable=True,
        window_size=14,
        global_attn_indexes=(2, 5, 8, 11),
        use_rel_pos=True),
    neck=dict(_delete_=True, type='mae_mm.SimpleFPN', in_channels=768, out_channels=256,
              num_outs=5, norm_cfg=norm_cfg),
    rpn_head=dict(num_convs=2),
    roi_head=dict(
        bbox_head=dict(type='Shared4Conv1FCBBoxHead', conv_out_channels=256, norm_cfg=norm_cfg),
        mask_head=dict(norm_cfg=norm_cfg)))
