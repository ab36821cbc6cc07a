"""fathom.nn.functional: PyTorch's functional API.

Fused primitives (with their own backward) live in fathom.ops.conv, ops.pool
and ops.nn; what can be composed from ops is composed here and needs no backward.
"""
from __future__ import annotations

from ..ops.conv import *  # noqa: F403
from ..ops.pool import *  # noqa: F403
from ..ops.nn import *  # noqa: F403
