from .loading import LoadImageFromFile
from .masking import BlockMasking, GridMasking, RandomMasking
from .seed import SeedSample

__all__ = ['BlockMasking', 'GridMasking', 'LoadImageFromFile', 'RandomMasking', 'SeedSample']
