from .grouped import GroupedOptimWrapperConstructor
from .layer_decay import LayerDecayOptimWrapperConstructor

__all__ = ['GroupedOptimWrapperConstructor', 'LayerDecayOptimWrapperConstructor']
