from .loading import LoadImageFromFile
from .masking import BlockMasking, GridMasking, RandomMasking
from .resized_crop import RandomResizedCrop
from .seed import SeedSample

__all__ = ['BlockMasking', 'GridMasking', 'LoadImageFromFile', 'RandomMasking',
           'RandomResizedCrop', 'SeedSample']
