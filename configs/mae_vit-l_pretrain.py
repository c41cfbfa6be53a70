# MAE ViT-L/16, 800 epochs on ImageNet-1k (8 GPUs x 256 x 2 accumulated steps = 4096).
_base_ = ['mae_vit-b_pretrain.py']
model = dict(backbone=dict(arch='l'))
train_dataloader = dict(batch_size=256)
optim_wrapper = dict(accumulative_counts=_base_.total_batch // (_base_.num_gpus * 256))
