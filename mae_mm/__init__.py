"""mae_mm: Masked Autoencoders (He et al., 2021) for the OpenMMLab ecosystem."""
from . import datasets, engine, models  # noqa: F401  (registers the modules)

__version__ = '0.1.0'
