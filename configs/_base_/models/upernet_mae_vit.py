# UperNet on MAE's ViT-B/16 (the paper's Table 5 transfer, following BEiT): blocks 3, 5, 7, 11
# as maps, rescaled by 4, 2, 1, 0.5 (mmseg's Feature2Pyramid) for UPerHead; an auxiliary FCN
# head (loss weight 0.4) on the stride-16 level. Relative position bias (zero at transfer)
# and layer scale are added for fine-tuning only: they are the keys a pretrain checkpoint lacks.
embed_dims = 768
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(512, 512),
    # test images padded to whole patches (16; cut off again from the prediction): a slide
    # window is smaller than 512 px where the image is, e.g. 341 px tall for a wide panorama
    test_cfg=dict(size_divisor=16))
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='mae_mm.MAEViT',
        arch='b',
        img_size=512,  # the 224 px pretrain position embedding is resized at load
        out_type='featmap',  # (B, D, h, w) patch maps, class token dropped
        out_indices=(3, 5, 7, 11),
        final_norm=False,
        use_rel_pos_bias=True,
        # 1.0 keeps the pretrained function at the start (MAE has no layer scale); this is
        # mmseg's MAE-B setting that gives 48.1 (BEiT's own models, pretrained with it, use 0.1)
        layer_scale_init=1.0,
        pos_embed_trainable=True,
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint='pretrain/mae_pretrain_vit_base.pth')),
    neck=dict(type='Feature2Pyramid', embed_dim=embed_dims, rescales=[4, 2, 1, 0.5],
              norm_cfg=norm_cfg),
    decode_head=dict(
        type='UPerHead',
        in_channels=[embed_dims] * 4,
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=embed_dims,
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=embed_dims,
        in_index=2,
        channels=256,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),
    train_cfg=dict(),
    # sliding 512 px windows, 1/3 overlap. Whole images: `model.test_cfg.mode=whole`
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)))
