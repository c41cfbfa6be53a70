# Mask R-CNN, MAE ViT-L/16 with the MAE paper's pyramid (Appendix A.3): the 24 blocks in four
# groups, the last block of each rescaled to strides 4, 8, 16, 32 and fed to an FPN. Same
# backbone and recipe as maskrcnn_vit-l_coco.py otherwise. Paper, Table 4: 53.3 box / 47.2 mask AP.
_base_ = ['maskrcnn_vit-l_coco.py']
embed_dims = 1024
model = dict(
    backbone=dict(out_indices=(5, 11, 17, 23)),
    neck=[
        dict(type='mae_mm.ViTPyramid', in_channels=embed_dims, norm_cfg=_base_.norm_cfg),
        dict(type='FPN', in_channels=[embed_dims] * 4, out_channels=256, num_outs=5,
             norm_cfg=_base_.norm_cfg),
    ])
