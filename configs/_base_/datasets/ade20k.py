# ADE20K (SceneParsing, 150 classes) with mmseg's own pipelines: 512 px random-scale crops for
# training, (2048, 512) resize for testing, reduce_zero_label (0 = unlabelled -> ignored).
# Data: unzip http://data.csail.mit.edu/places/ADEchallenge/ADEChallengeData2016.zip into
# data/ade/, giving data/ade/ADEChallengeData2016/{images,annotations}/{training,validation};
# elsewhere: --cfg-options train_dataloader.dataset.data_root=... (and val_/test_dataloader).
_base_ = 'mmseg::_base_/datasets/ade20k.py'
data_root = 'data/ade/ADEChallengeData2016'
train_dataloader = dict(batch_size=2, dataset=dict(data_root=data_root))  # 8 GPUs x 2 = 16
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
