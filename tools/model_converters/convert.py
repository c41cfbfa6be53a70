"""Convert an MAE-family ViT checkpoint of any supported format (auto-detected).

Examples:
    # facebookresearch/mae pretrain checkpoint -> mae_mm (resume / fine-tune configs)
    python tools/model_converters/convert.py mae_pretrain_vit_base.pth mae_b.pth --to mae_mm
    # an mmpretrain MAE checkpoint -> the encoder alone at 1024 px for detection
    python tools/model_converters/convert.py mmpretrain_mae.pth vit_b_1024.pth --to backbone \
        --img-size 1024
    # a fine-tuned / linear-probed classifier keeps its head: official <-> mae_mm both ways
    python tools/model_converters/convert.py mae_finetuned_vit_base.pth vit_b_cls.pth --to mae_mm
"""
import argparse
import pickle
import sys

from mae_mm.checkpoint import FORMATS, WRITERS, convert_checkpoint


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=f'Convert a ViT / MAE checkpoint (read: {", ".join(FORMATS)}; format '
                    f'detected from the parameter names)')
    parser.add_argument('src', help='source checkpoint: file, Hugging Face folder or URL')
    parser.add_argument('dst', help='file to write')
    parser.add_argument('--to', required=True, choices=sorted(WRITERS),
                        help='mae_mm: mmengine checkpoint with backbone./neck. keys (a classifier '
                        "head as head.fc./neck.bn.); official: facebookresearch/mae's "
                        "{'model': ...} (with its head); backbone: the encoder alone, official "
                        'names, no prefix')
    parser.add_argument('--img-size', type=int,
                        help='resize the position embeddings (bicubic) to this square image size')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    try:
        ckpt = convert_checkpoint(args.src, args.dst, args.to, args.img_size)
    except (FileNotFoundError, KeyError, ValueError, pickle.UnpicklingError) as err:
        sys.exit(f'error: {err}')
    num_blocks = len({k.split('.')[1] for k in ckpt.encoder if k.startswith('blocks.')})
    print(f'read {args.src}: {ckpt.format} format, encoder {len(ckpt.encoder)} tensors '
          f'({num_blocks} blocks), decoder {len(ckpt.decoder)} tensors, head {len(ckpt.head)} '
          f'tensors, other {len(ckpt.other)}')
    parts = (ckpt.encoder, ) if args.to == 'backbone' else (ckpt.encoder, ckpt.decoder, ckpt.head)
    written = {k for part in parts for k in part}
    left_out = sorted({*ckpt.encoder, *ckpt.decoder, *ckpt.head, *ckpt.other} - written)
    if left_out:
        print(f'left out (not part of the {args.to} format): {", ".join(left_out)}')
    if 'pos_embed' in ckpt.encoder:
        print(f'pos_embed: {tuple(ckpt.encoder["pos_embed"].shape)}')
    print(f'wrote {args.dst} ({args.to} format, {len(written)} tensors)')


if __name__ == '__main__':
    main()
