from .masking import BlockMasking, GridMasking, RandomMasking

__all__ = ['BlockMasking', 'GridMasking', 'RandomMasking']
