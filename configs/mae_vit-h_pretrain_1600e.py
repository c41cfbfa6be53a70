# The paper's longer schedule: 1600 epochs (warm-up 40), otherwise mae_vit-h_pretrain.py.
_base_ = ['mae_vit-h_pretrain.py']
max_epochs = 1600
param_scheduler = [
    _base_.param_scheduler[0],
    dict(_base_.param_scheduler[1], T_max=max_epochs - _base_.warmup_epochs, end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
