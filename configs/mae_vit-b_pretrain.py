# MAE ViT-B/16, 800 epochs on ImageNet-1k: bash tools/dist_train.sh configs/mae_vit-b_pretrain.py 8
_base_ = [
    '_base_/datasets/imagenet_mae.py',  # includes _base_/models/mae_vit.py: masks follow the model
    '_base_/schedules/mae_pretrain.py',
    '_base_/default_runtime.py',
]
# 4096 / (8 GPUs x 512) = 1 step per update
train_dataloader = dict(batch_size=_base_.total_batch // _base_.num_gpus)
