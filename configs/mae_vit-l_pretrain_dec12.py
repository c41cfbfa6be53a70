# Decoder-depth ablation (the paper's Table 1a / Table 2): ViT-L with a 12-block decoder.
_base_ = ['mae_vit-l_pretrain.py']
model = dict(neck=dict(decoder_depth=12))
