"""Write a small synthetic data set in ADE20K's layout (for the segmentation demo and tests).

    python tools/dataset_tools/make_ade20k_demo.py data/ade20k_demo
"""
import argparse

from mae_mm.datasets.ade20k_synthetic import make_ade20k_demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', help='output folder (the config\'s data_root)')
    parser.add_argument('--num-train', type=int, default=64, help='training images')
    parser.add_argument('--num-val', type=int, default=16, help='validation images')
    parser.add_argument('--size', type=int, nargs=2, default=(128, 96), metavar=('W', 'H'),
                        help='image width and height in pixels')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    root = make_ade20k_demo(args.root, args.num_train, args.num_val, tuple(args.size), args.seed)
    print(f'wrote {args.num_train} training and {args.num_val} validation images to {root}')


if __name__ == '__main__':
    main()
