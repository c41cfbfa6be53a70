"""``BuiltinImages``: the built-in photo tiles as an unlabeled image-folder dataset."""
from mmpretrain.datasets import CustomDataset

from mae_mm.registry import DATASETS
from .builtin import make_demo_images


@DATASETS.register_module()
class BuiltinImages(CustomDataset):
    """mmpretrain's ``CustomDataset`` over the built-in image set, written on first use.

    Args:
        data_root (str): Folder for the images; created and filled if it has none.
        tile (int): Side of the square tiles cut from the photographs. Defaults to 96.
        **kwargs: Passed to ``CustomDataset`` (``pipeline``, ...).
    """

    creates_data_root = True  # pre-flight checks need not find images there beforehand

    def __init__(self, data_root: str = 'data/demo_images', tile: int = 96, **kwargs) -> None:
        make_demo_images(data_root, tile)
        super().__init__(data_root=data_root, with_label=False, **kwargs)
