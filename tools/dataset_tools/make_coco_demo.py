"""Write a small synthetic instance-segmentation set in COCO's layout (detection demo, tests).

    python tools/dataset_tools/make_coco_demo.py data/coco_demo
"""
import argparse

from mae_mm.datasets.coco_synthetic import CLASSES, make_coco_demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', help='output folder (the config\'s data_root)')
    parser.add_argument('--num-train', type=int, default=64, help='training images')
    parser.add_argument('--num-val', type=int, default=16, help='validation images')
    parser.add_argument('--size', type=int, default=128, help='side of the square images (px)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    root = make_coco_demo(args.root, args.num_train, args.num_val, args.size, args.seed)
    print(f'wrote {args.num_train} training and {args.num_val} validation images of '
          f'{len(CLASSES)} classes {CLASSES} to {root}')


if __name__ == '__main__':
    main()
