"""Fathom's differentiable ops, a file per family; each op's forward and backward together.

Every public function here is also `fathom.<name>`; those in METHODS are also
Tensor methods with the tensor as first argument (`x.exp()` is `fathom.exp(x)`).
"""
from . import conv, elementwise, index, linalg, nn, pool, reduce, rnn, shape
from .elementwise import *  # noqa: F403
from .elementwise import fill_, inplace, zero_  # noqa: F401
from .index import *  # noqa: F403
from .linalg import *  # noqa: F403
from .reduce import *  # noqa: F403
from .shape import *  # noqa: F403
from .nn import *  # noqa: F403 - softmax, log_softmax, dropout... are also fathom.<name>
from ..creation import full  # noqa: F401

_FAMILIES = (elementwise, index, linalg, reduce, shape, conv, pool, nn, rnn)
# `from fathom.ops import *` gives the ops only, not the family modules (fathom.nn is
# the layers package, not ops.nn)
__all__ = [name for fam in (elementwise, index, linalg, reduce, shape, nn)
           for name in fam.__all__] + ["full"]

# Functions that are also Tensor methods (self as first argument).
METHODS = frozenset(name for fam in _FAMILIES for name in getattr(fam, "METHODS", ()))
