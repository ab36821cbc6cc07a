"""fathom.nn: modules with PyTorch's names, signatures, defaults and parameter layouts.

Objects that hold parameters live here; the stateless math is in `functional`.
"""
from . import functional, init, utils  # noqa: F401
from .parameter import Parameter
from .module import Module
from .containers import Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict
from .linear import *  # noqa: F403
from .activation import *  # noqa: F403
from .dropout import *  # noqa: F403
from .conv import *  # noqa: F403
from .pooling import *  # noqa: F403
from .padding import *  # noqa: F403
from .normalization import *  # noqa: F403
from .rnn import *  # noqa: F403
from .attention import *  # noqa: F403
from .transformer import *  # noqa: F403
from .loss import *  # noqa: F403
