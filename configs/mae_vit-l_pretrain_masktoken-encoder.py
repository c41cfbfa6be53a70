# Ablation (the paper's Table 1c / Table 2): the encoder sees every patch, masked ones
# replaced by a learned mask token. About 3.3x the encoder FLOPs; for speed comparisons.
_base_ = ['mae_vit-l_pretrain.py']
model = dict(backbone=dict(mask_tokens_in_encoder=True))
