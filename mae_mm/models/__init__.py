from .algorithms import *  # noqa: F401,F403
from .backbones import *  # noqa: F401,F403
from .data_preprocessor import MAEDataPreprocessor  # noqa: F401
from .heads import *  # noqa: F401,F403
from .necks import *  # noqa: F401,F403
