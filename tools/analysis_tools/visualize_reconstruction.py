"""Reconstruct images with a pretrained MAE and save the paper's Figure 2 rows as a PNG.

    python tools/analysis_tools/visualize_reconstruction.py CONFIG CHECKPOINT \
        [--img a.jpg b.jpg | --img folder/] [--num 6] [--mask-ratio 0.75] --out recon.png

Without --img, the first images of the config's training set are used. Each row shows the
masked input, the reconstruction, the reconstruction with the visible patches pasted back,
and the original.
"""
import argparse
import os
import os.path as osp

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, default_collate
from mmengine.registry import DATASETS, MODELS, init_default_scope
from mmengine.utils import import_modules_from_strings
from PIL import Image

IMG_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Visualise MAE reconstructions')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--img', nargs='+', help='image files or a folder (default: training set)')
    parser.add_argument('--num', type=int, default=6, help='how many images')
    parser.add_argument('--seed', type=int, default=0, help='seed of crops and masks')
    parser.add_argument('--mask-ratio', type=float,
                        help="share of patches masked (default: the config's; the paper's "
                        'Figure 3 shows 0.75 to 0.95 with a model trained at 0.75)')
    parser.add_argument('--out', default='reconstruction.png', help='output PNG')
    return parser.parse_args()


def image_files(paths: list) -> list:
    files = []
    for p in paths:
        if osp.isdir(p):
            files += sorted(osp.join(p, f) for f in os.listdir(p) if f.lower().endswith(IMG_EXTS))
        elif osp.isfile(p):
            files.append(p)
        else:
            raise FileNotFoundError(f'--img {p!r} is neither an image file nor a folder')
    return files


def set_mask_ratio(cfg: Config, ratio: float) -> None:
    """Mask ``ratio`` of the patches: in the model and in the training data's masking."""
    cfg.model.backbone.mask_ratio = ratio
    for pipeline in (cfg.get('train_pipeline', []), cfg.train_dataloader.dataset.get('pipeline', [])):
        for transform in pipeline:
            kind = str(transform.get('type', '')).split('.')[-1]
            if kind == 'GridMasking':
                raise ValueError(f'--mask-ratio {ratio}: this config masks with GridMasking, whose '
                                 f'ratio its cell fixes (1 - 1 / cell**2: 0.75 for cell=2); leave '
                                 f'out --mask-ratio, or use a config with RandomMasking')
            if kind in ('RandomMasking', 'BlockMasking') or 'mask_ratio' in transform:
                transform['mask_ratio'] = ratio


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.mask_ratio is not None:
        set_mask_ratio(cfg, args.mask_ratio)
    import_modules_from_strings(**cfg.get('custom_imports', {}))
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    from mae_mm.checkpoint import load_backbone_checkpoint, read_checkpoint
    from mae_mm.visualization import preprocessor_mean_std, reconstruction_rows

    model = MODELS.build(cfg.model)
    checkpoint = read_checkpoint(args.checkpoint)  # any format mae_mm reads, with a decoder
    if not checkpoint.decoder:
        raise ValueError(f'{args.checkpoint} has no MAE decoder weights ({checkpoint.format} '
                         f'format, encoder only); reconstructions need a full pretraining checkpoint')
    load_backbone_checkpoint(model.backbone, {'model': checkpoint.encoder})
    model.neck.load_state_dict(checkpoint.decoder, strict=True)
    model.eval()
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    if args.img:
        pipeline = Compose(cfg.train_pipeline)
        samples = [pipeline(dict(img_path=f)) for f in image_files(args.img)[:args.num]]
    else:
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
        samples = [dataset[i] for i in range(min(args.num, len(dataset)))]
    data = model.data_preprocessor(default_collate(samples), False)
    mean, std = preprocessor_mean_std(model.data_preprocessor, data['inputs'].shape[1])
    rows = reconstruction_rows(model, data['inputs'], data['data_samples'], mean, std)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    Image.fromarray(rows).save(args.out)
    print(f'{len(samples)} reconstructions written to {args.out}')


if __name__ == '__main__':
    main()
