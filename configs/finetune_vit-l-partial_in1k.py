# MAE partial fine-tuning (the paper's Figure 9), ViT-L/16 on ImageNet-1k: the patch
# embedding, class token, position embedding and the first 24 - k blocks stay frozen; the last
# k blocks, the pooling norm and the head are fine-tuned with the ViT-L recipe. This file tunes
# k = 1 block; other points of the figure by the command line, e.g. k = 4:
#   --cfg-options model.backbone.frozen_stages=20
# (frozen_stages=24 with out_type='cls' is the linear probe's frozen encoder.) The paper
# lengthens the schedule when fewer blocks are tuned (train_cfg.max_epochs).
_base_ = ['finetune_vit-l_in1k.py']
tuned_blocks = 1
model = dict(backbone=dict(frozen_stages=24 - tuned_blocks))
