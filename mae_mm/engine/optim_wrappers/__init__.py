from .amp import AmpOptimWrapper
from .skip_non_finite import SkipNonFiniteAmpOptimWrapper, SkipNonFiniteOptimWrapper

__all__ = ['AmpOptimWrapper', 'SkipNonFiniteAmpOptimWrapper', 'SkipNonFiniteOptimWrapper']
