from .builtin_dataset import BuiltinImages
from .transforms import *  # noqa: F401,F403

__all__ = ['BuiltinImages']
