"""Parameter: a Tensor that a Module registers as learnable when assigned to it."""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor, _host, _make

_np = backend.np


class Parameter(Tensor):
    """A leaf Tensor with `requires_grad=True` (by default) that Modules collect.

    `Parameter(t)` shares `t`'s memory, as in PyTorch.

        >>> p = nn.Parameter(fathom.zeros(3))
        >>> p.requires_grad, p.is_leaf
        (True, True)
    """

    def __new__(cls, data=None, requires_grad: bool = True):
        if data is None:
            data = _make(_np.empty(0, dtype=_np.float32), None, 0, None)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter: expected a Tensor, got {type(data).__name__}")
        p = Tensor.__new__(cls)
        p.data = data.data
        p._node = None
        p.requires_grad = bool(requires_grad)
        p._out_idx = 0
        p._vc = data._vc  # same memory, same version counter
        p.grad = None
        p._hooks = None
        p._accum = None
        p._retains = False
        p._view = None
        return p

    def __init__(self, data=None, requires_grad: bool = True):
        pass  # everything happens in __new__ (Tensor.__init__ would copy)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __deepcopy__(self, memo):
        p = Parameter(_make(self.data.copy(), None, 0, None), self.requires_grad)
        if self.grad is not None:
            p.grad = _make(self.grad.data.copy(), None, 0, None)
        memo[id(self)] = p
        return p

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (_host(self.data), self.requires_grad))


def _rebuild_parameter(data, requires_grad):
    return Parameter(_make(data, None, 0, None), requires_grad)
