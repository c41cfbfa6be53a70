# The detection demo with the MAE paper's pyramid instead of ViTDet's: the outputs of blocks
# 1, 2, 4, 5 of the 6-block demo ViT (the ends of four groups of 1.5 blocks) rescaled to
# strides 4-32 and fed to mmdet's FPN. Same data, recipe and commands as
# maskrcnn_vit-tiny_coco_demo.py.
_base_ = ['maskrcnn_vit-tiny_coco_demo.py']
model = dict(
    backbone=dict(out_indices=(1, 2, 4, 5)),
    neck=[
        dict(type='mae_mm.ViTPyramid', in_channels=192, scales=(2, 1, 0.5, 0.25),
             norm_cfg=_base_.norm_cfg),
        dict(type='FPN', in_channels=[192] * 4, out_channels=_base_.channels, num_outs=5,
             norm_cfg=_base_.norm_cfg),
    ])
