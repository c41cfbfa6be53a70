# Mask sampling ablation (the paper's Figure 6 / Table 1f): block-wise masking, ViT-B.
_base_ = ['mae_vit-b_pretrain.py']
train_pipeline = [
    *_base_.train_pipeline[:4],
    dict(type='mae_mm.BlockMasking', patch_size=_base_.patch_size, mask_ratio=_base_.mask_ratio),
    *_base_.train_pipeline[5:],
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
