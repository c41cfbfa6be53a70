from .skip_non_finite import SkipNonFiniteAmpOptimWrapper, SkipNonFiniteOptimWrapper

__all__ = ['SkipNonFiniteAmpOptimWrapper', 'SkipNonFiniteOptimWrapper']
