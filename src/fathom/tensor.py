"""Tensor: an array, its gradient, and its place in the graph.

Operators and methods are one-liners into `fathom.ops`, where each op's forward
and backward live side by side. A Tensor made by an op that needs gradients
points at that op's node (`grad_fn`); leaves point at nothing.
"""
from __future__ import annotations

import builtins

from . import backend
from . import dtypes as _dt
from .autograd.function import AccumulateGrad
from .autograd.grad_mode import state as _mode
from .errors import DTypeError, ShapeError, fmt_shape

_np = backend.np


def _make(data, node, out_idx, vc):
    """Wrap an array without checks (the hot path of every op)."""
    t = Tensor.__new__(Tensor)
    t.data = data
    t._node = node
    t.requires_grad = node is not None
    t._out_idx = out_idx
    t._vc = vc if vc is not None else [0]
    t._grad = None
    t._hooks = None
    t._accum = None
    t._retains = False
    t._view = None
    return t


class Tensor:
    """An n-dimensional array that records the ops applied to it for autograd.

    `Tensor(data)` copies `data` into a new float tensor, like `torch.Tensor`;
    prefer `fathom.tensor(data)`, which infers the dtype.
    """

    __slots__ = ("data", "_grad", "requires_grad", "_node", "_out_idx", "_vc", "_hooks",
                 "_accum", "_retains", "_view", "__weakref__", "__dict__")
    __array_ufunc__ = None  # NumPy defers to our reflected operators: array * tensor -> Tensor
    __hash__ = object.__hash__

    def __init__(self, data=(), requires_grad: bool = False):
        arr = _np.array(data.data if isinstance(data, Tensor) else data,
                        dtype=_dt.get_default_dtype().np)
        self.data = arr
        self._node = None
        self.requires_grad = bool(requires_grad)
        self._out_idx = 0
        self._vc = [0]
        self._grad = None
        self._hooks = None
        self._accum = None
        self._retains = False
        self._view = None

    # --- metadata --------------------------------------------------------------------
    @property
    def shape(self) -> Size:
        return Size(self.data.shape)

    def size(self, dim: int | None = None):
        if dim is None:
            return Size(self.data.shape)
        from .errors import normalize_dim  # noqa: PLC0415
        return self.data.shape[normalize_dim("size", dim, self.data.ndim, self.data.shape)]

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def dim(self) -> int:
        return self.data.ndim

    def ndimension(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        return self.data.size

    def nelement(self) -> int:
        return self.data.size

    def element_size(self) -> int:
        return self.data.itemsize

    @property
    def dtype(self) -> _dt.dtype:
        return _dt.from_numpy_dtype(self.data.dtype)

    @property
    def device(self) -> backend.device:
        return backend.device_of(self.data)

    @property
    def is_cuda(self) -> bool:
        return backend.namespace(self.data) is not _np

    def is_floating_point(self) -> bool:
        return self.data.dtype.kind == "f"

    def is_contiguous(self) -> bool:
        return self.data.flags.c_contiguous

    def stride(self, dim: int | None = None):
        st = tuple(s // self.data.itemsize for s in self.data.strides)
        return st if dim is None else st[dim]

    def data_ptr(self) -> int:
        return self.data.__array_interface__["data"][0] if self.data.size else 0

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def grad_fn(self):
        return self._node

    @property
    def T(self) -> Tensor:
        return _ops.permute(self, tuple(range(self.data.ndim - 1, -1, -1)))

    @property
    def mT(self) -> Tensor:
        return _ops.transpose(self, -2, -1)

    @property
    def version(self) -> int:
        """How many in-place edits this tensor (or a view of it) has had: `_version`."""
        return self._vc[0]

    _version = version

    # --- conversion ------------------------------------------------------------------
    def item(self):
        if self.data.size != 1:
            raise RuntimeError(f"item(): a Tensor with {self.data.size} elements cannot be "
                               f"converted to a Python number (shape "
                               f"{fmt_shape(self.data.shape)})")
        return self.data.reshape(-1)[0].item()

    def tolist(self):
        return _host(self.data).tolist()

    def numpy(self, force: bool = False):
        """The data as a NumPy array, sharing memory (as PyTorch's `.numpy()`)."""
        if self.requires_grad and not force:
            raise RuntimeError("numpy(): can't call numpy() on a Tensor that requires grad; "
                               "use tensor.detach().numpy()")
        return _host(self.data)

    def __array__(self, dtype=None, copy=None):
        arr = self.numpy()
        return arr if dtype is None else arr.astype(dtype)

    def to(self, *args, **kwargs) -> Tensor:
        """`to(dtype)`, `to(device)`, `to(device, dtype)` or `to(other_tensor)`."""
        dev, dtype = _to_args(args, kwargs)
        copy = kwargs.get("copy", False)
        out = self
        if dev is not None:
            out = _ops.elementwise.to_device(out, dev)
        if dtype is not None and _dt.as_dtype(dtype).np != out.data.dtype:
            out = _ops.cast(out, _dt.as_dtype(dtype).np)
        if copy and out is self:
            out = self.clone()
        return out

    def type(self, dtype=None):
        if dtype is None:
            return f"fathom.{_TYPE_NAMES[self.dtype.name]}"
        return self.to(dtype)

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, device=None) -> Tensor:
        return self.to(backend.device("cuda", device if isinstance(device, int) else None))

    def float(self) -> Tensor:
        return self.to(_dt.float32)

    def double(self) -> Tensor:
        return self.to(_dt.float64)

    def half(self) -> Tensor:
        return self.to(_dt.float16)

    def long(self) -> Tensor:
        return self.to(_dt.int64)

    def int(self) -> Tensor:
        return self.to(_dt.int32)

    def bool(self) -> Tensor:
        return self.to(_dt.bool)

    def byte(self) -> Tensor:
        return self.to(_dt.uint8)

    # --- autograd --------------------------------------------------------------------
    @property
    def grad(self):
        """The gradient accumulated by backward (None until then)."""
        return self._grad

    @grad.setter
    def grad(self, value):
        # as PyTorch: a gradient must match its tensor, or optimizers would silently
        # widen float32 state or broadcast the update
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad "
                                f"of type {type(value).__name__}")
            if value.data.shape != self.data.shape:
                raise ShapeError(f"assigned grad has data of a different size: grad "
                                 f"{fmt_shape(value.data.shape)}, tensor "
                                 f"{fmt_shape(self.data.shape)}")
            if value.data.dtype != self.data.dtype:
                raise DTypeError(f"assigned grad has data of a different type: grad "
                                 f"{value.data.dtype}, tensor {self.data.dtype}")
        self._grad = value

    @grad.deleter
    def grad(self):
        self._grad = None

    def _edge(self):
        """(node, output index) through which gradients reach this tensor."""
        if self._node is not None:
            return (self._node, self._out_idx)
        if self._accum is None:
            self._accum = AccumulateGrad(self)
        return (self._accum, 0)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if self._node is not None and not requires_grad:
            raise RuntimeError("requires_grad_(False): you can only change requires_grad "
                               "flags of leaf tensors; use .detach() for a non-leaf")
        if requires_grad and self.data.dtype.kind != "f":
            raise RuntimeError(f"requires_grad_(): only floating point tensors can require "
                               f"gradients, got dtype {self.dtype}")
        self.requires_grad = requires_grad
        return self

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into every leaf's `.grad` (adding to what is there).

        Gradients add up across calls, as in PyTorch: call `zero_grad()` between steps.
        """
        _autograd.backward(self, gradient, retain_graph, create_graph, inputs)

    def detach(self) -> Tensor:
        """The same data, cut from the graph (shares memory and the version counter)."""
        return _make(self.data, None, 0, self._vc)

    def detach_(self) -> Tensor:
        self._node = None
        self.requires_grad = False
        return self

    def register_hook(self, hook):
        """Call `hook(grad)` when this tensor's gradient is computed; a returned Tensor
        replaces the gradient. Returns a handle with `.remove()`."""
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that "
                               "doesn't require gradient")
        if self._node is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
            hooks.append(hook)
        else:
            self._node.register_hook(self._out_idx, hook)
            hooks = self._node.hooks[self._out_idx]
        return _HookHandle(hooks, hook)

    def retain_grad(self) -> None:
        """Keep `.grad` for this non-leaf tensor after backward."""
        if self._node is None or self._retains:
            return
        self._retains = True
        import weakref  # noqa: PLC0415
        ref = weakref.ref(self)

        def store(g):
            t = ref()
            if t is not None:
                g = g.detach() if not _mode.enabled else g
                t.grad = _make(g.data.copy(), None, 0, None) if t.grad is None \
                    else t.grad + g
        self._node.register_hook(self._out_idx, store)

    @property
    def retains_grad(self) -> bool:
        return self._retains

    # --- printing --------------------------------------------------------------------
    def __repr__(self):
        return _format(self)

    def __str__(self):
        return _format(self)

    def __format__(self, spec):
        if self.data.ndim == 0 and spec:
            return format(self.item(), spec)
        return _format(self)

    # --- Python protocol -------------------------------------------------------------
    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self.data.size} values is "
                               "ambiguous (use .any() or .all())")
        return builtins.bool(self.data.reshape(-1)[0])

    def __float__(self):
        return builtins.float(self._one("float"))

    def __int__(self):
        return builtins.int(self._one("int"))

    def _one(self, who):
        if self.data.size != 1:  # PyTorch raises ValueError here (item() raises RuntimeError)
            raise ValueError(f"{who}(): only one element tensors can be converted to Python "
                             f"scalars; got shape {fmt_shape(self.data.shape)}")
        return self.data.reshape(-1)[0].item()

    def __index__(self):
        if self.data.dtype.kind not in "iub" or self.data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to "
                            "an index")
        return builtins.int(self.item())

    def __complex__(self):
        return complex(self.item())

    def __reduce_ex__(self, protocol):
        # Pickling carries data only (for DataLoader workers); files use fathom.save.
        return (_rebuild, (_host(self.data), self.requires_grad))

    def __deepcopy__(self, memo):
        if self._node is not None:
            raise RuntimeError("deepcopy: only leaf tensors support the deepcopy protocol; "
                               "use .detach().clone()")
        t = _make(self.data.copy(), None, 0, None)
        t.requires_grad = self.requires_grad
        if self.grad is not None:
            t.grad = _make(self.grad.data.copy(), None, 0, None)
        memo[id(self)] = t
        return t

    # --- operators -------------------------------------------------------------------
    def __add__(self, other):
        return _ops.add(self, other)

    def __radd__(self, other):
        return _ops.add(other, self)

    def __sub__(self, other):
        return _ops.sub(self, other)

    def __rsub__(self, other):
        return _ops.sub(other, self)

    def __mul__(self, other):
        return _ops.mul(self, other)

    def __rmul__(self, other):
        return _ops.mul(other, self)

    def __truediv__(self, other):
        return _ops.div(self, other)

    def __rtruediv__(self, other):
        return _ops.div(other, self)

    def __floordiv__(self, other):
        return _ops.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _ops.floor_divide(other, self)

    def __mod__(self, other):
        return _ops.remainder(self, other)

    def __rmod__(self, other):
        return _ops.remainder(other, self)

    def __pow__(self, other):
        return _ops.pow(self, other)

    def __rpow__(self, other):
        return _ops.pow(other, self)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __neg__(self):
        return _ops.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.abs(self)

    def __invert__(self):
        return _ops.bitwise_not(self)

    def __and__(self, other):
        return _ops.bitwise_and(self, other)

    def __rand__(self, other):
        return _ops.bitwise_and(other, self)

    def __or__(self, other):
        return _ops.bitwise_or(self, other)

    def __ror__(self, other):
        return _ops.bitwise_or(other, self)

    def __xor__(self, other):
        return _ops.bitwise_xor(self, other)

    def __rxor__(self, other):
        return _ops.bitwise_xor(other, self)

    def __eq__(self, other):
        return _ops.eq(self, other)

    def __ne__(self, other):
        return _ops.ne(self, other)

    def __lt__(self, other):
        return _ops.lt(self, other)

    def __le__(self, other):
        return _ops.le(self, other)

    def __gt__(self, other):
        return _ops.gt(self, other)

    def __ge__(self, other):
        return _ops.ge(self, other)

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    def __setitem__(self, index, value):
        _ops.setitem(self, index, value)

    # in-place operators: x += y
    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def __ipow__(self, other):
        return self.pow_(other)

    def __imatmul__(self, other):
        raise RuntimeError("@=: in-place matmul is not supported; write x = x @ y")

    def __iand__(self, other):
        return _ops.inplace(self, _ops.bitwise_and, other)

    def __ior__(self, other):
        return _ops.inplace(self, _ops.bitwise_or, other)

    def __ixor__(self, other):
        return _ops.inplace(self, _ops.bitwise_xor, other)

    # --- method forms ------------------------------------------------------------------
    # Most methods are the functions of fathom.ops with self first (x.exp() is
    # fathom.exp(x)); they are attached at the bottom of this file from ops.METHODS.
    # The ones below differ in signature (varargs shapes, in-place forms).
    def add(self, other, alpha=1):
        return _ops.add(self, other, alpha=alpha)

    def sub(self, other, alpha=1):
        return _ops.sub(self, other, alpha=alpha)

    def mul(self, other):
        return _ops.mul(self, other)

    def div(self, other, rounding_mode=None):
        return _ops.div(self, other, rounding_mode=rounding_mode)

    def sum(self, dim=None, keepdim=False, dtype=None):
        return _ops.sum(self, dim, keepdim, dtype=dtype)

    def mean(self, dim=None, keepdim=False, dtype=None):
        return _ops.mean(self, dim, keepdim, dtype=dtype)

    def relu(self):
        return _ops.relu(self)

    def exp(self):
        return _ops.exp(self)

    def log(self):
        return _ops.log(self)

    def reshape(self, *shape):
        return _ops.reshape(self, _shape_args(shape))

    def view(self, *shape):
        if len(shape) == 1 and not isinstance(shape[0], (tuple, list, Size, builtins.int)):
            return self.to(shape[0])  # view(dtype) reinterprets in PyTorch; we cast
        return _ops.view(self, _shape_args(shape))

    def where(self, condition, y):
        """`x.where(condition, y)` is `fathom.where(condition, x, y)`, as in PyTorch."""
        return _ops.where(condition, self, y)

    def expand(self, *sizes):
        return _ops.expand(self, _shape_args(sizes))

    def repeat(self, *sizes):
        return _ops.repeat(self, _shape_args(sizes))

    def permute(self, *dims):
        return _ops.permute(self, _shape_args(dims))

    def transpose(self, dim0, dim1):
        return _ops.transpose(self, dim0, dim1)

    def flip(self, *dims):
        return _ops.flip(self, _shape_args(dims))

    def matmul(self, other):
        return _ops.matmul(self, other)

    def clone(self, memory_format=None):
        return _ops.clone(self)

    def contiguous(self, memory_format=None):
        return self if self.data.flags.c_contiguous else _ops.clone(self)

    def new_tensor(self, data, dtype=None, requires_grad=False):
        from .creation import tensor  # noqa: PLC0415
        return tensor(data, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None):
        return _ops.full(_shape_args(size), 0, dtype=dtype or self.dtype)

    def new_ones(self, *size, dtype=None):
        return _ops.full(_shape_args(size), 1, dtype=dtype or self.dtype)

    def new_full(self, size, fill_value, dtype=None):
        return _ops.full(tuple(size), fill_value, dtype=dtype or self.dtype)

    def new_empty(self, *size, dtype=None):
        return _ops.full(_shape_args(size), 0, dtype=dtype or self.dtype)

    # in-place methods (PyTorch's trailing underscore)
    def add_(self, other, alpha=1):
        return _ops.inplace(self, _ops.add, other, alpha=alpha)

    def sub_(self, other, alpha=1):
        return _ops.inplace(self, _ops.sub, other, alpha=alpha)

    def mul_(self, other):
        return _ops.inplace(self, _ops.mul, other)

    def div_(self, other, rounding_mode=None):
        return _ops.inplace(self, _ops.div, other, rounding_mode=rounding_mode)

    def pow_(self, other):
        return _ops.inplace(self, _ops.pow, other)

    def clamp_(self, min=None, max=None):  # noqa: A002 - PyTorch's names
        return _ops.inplace(self, _ops.clamp, min, max)

    clip_ = clamp_

    def neg_(self):
        return _ops.inplace(self, _ops.neg)

    def exp_(self):
        return _ops.inplace(self, _ops.exp)

    def log_(self):
        return _ops.inplace(self, _ops.log)

    def sqrt_(self):
        return _ops.inplace(self, _ops.sqrt)

    def abs_(self):
        return _ops.inplace(self, _ops.abs)

    def relu_(self):
        return _ops.inplace(self, _ops.relu)

    def sigmoid_(self):
        return _ops.inplace(self, _ops.sigmoid)

    def tanh_(self):
        return _ops.inplace(self, _ops.tanh)

    def masked_fill_(self, mask, value):
        return _ops.inplace(self, _ops.masked_fill, mask, value)

    def addcmul_(self, t1, t2, value=1):
        return _ops.inplace(self, _ops.addcmul, t1, t2, value=value)

    def addcdiv_(self, t1, t2, value=1):
        return _ops.inplace(self, _ops.addcdiv, t1, t2, value=value)

    def lerp_(self, end, weight):
        return _ops.inplace(self, _ops.lerp, end, weight)

    def copy_(self, src):
        return _ops.inplace(self, _ops.elementwise.copy_from, src)

    def zero_(self):
        return _ops.fill_(self, 0)

    def fill_(self, value):
        return _ops.fill_(self, value)

    def normal_(self, mean=0.0, std=1.0, generator=None):
        from . import random as _r  # noqa: PLC0415
        return _r.normal_(self, mean, std, generator=generator)

    def uniform_(self, a=0.0, b=1.0, generator=None):
        from . import random as _r  # noqa: PLC0415
        return _r.uniform_(self, a, b, generator=generator)

    def bernoulli_(self, p=0.5, generator=None):
        from . import random as _r  # noqa: PLC0415
        return _r.bernoulli_(self, p, generator=generator)


_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
               "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}


class Size(tuple):
    """A shape: a tuple that prints like PyTorch's `torch.Size([2, 3])`."""

    def __repr__(self):
        return f"fathom.Size({list(self)})"

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n


class _HookHandle:
    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _rebuild(data, requires_grad):
    t = _make(data, None, 0, None)
    t.requires_grad = requires_grad
    return t


def _to_args(args, kwargs):
    """(device, dtype) from `to`'s forms: to(dtype), to(device), to(device, dtype),
    to(tensor), and the keywords; either may be None (Tensor.to and Module.to)."""
    dtype, dev = kwargs.get("dtype"), kwargs.get("device")
    for a in args:
        if isinstance(a, Tensor):
            dtype, dev = a.dtype, a.device
        elif isinstance(a, (str, backend.device)):
            dev = a
        elif a is not None:
            dtype = a
    return dev, dtype


def _host(arr):
    return arr if type(arr) is _np.ndarray else arr.get()


def _shape_args(args) -> tuple:
    """Accept both f(2, 3) and f((2, 3)) like PyTorch."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


# Printing follows torch/_tensor_str.py (precision 4, threshold 1000, edgeitems 3,
# linewidth 80), so a repr reads the same in both frameworks.
_PRECISION, _THRESHOLD, _EDGE, _LINEWIDTH = 4, 1000, 3, 80


class _Formatter:
    """One width and one notation (integer-valued, fixed or scientific) for all elements."""

    def __init__(self, arr):
        self.floating = arr.dtype.kind == "f"
        self.int_mode, self.sci_mode, self.width = True, False, 1
        flat = arr.reshape(-1)
        if not self.floating:
            self.width = builtins.max(len(str(v)) for v in flat.tolist())
            return
        flat = flat.astype(_np.float64)
        vals = flat[_np.isfinite(flat) & (flat != 0)]
        if vals.size == 0:
            return
        mags = _np.abs(vals)
        lo, hi = builtins.float(mags.min()), builtins.float(mags.max())
        self.int_mode = builtins.bool(_np.all(vals == _np.ceil(vals)))
        self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or (not self.int_mode and lo < 1.0e-4)
        if self.sci_mode:
            spec, extra = f".{_PRECISION}e", 0
        elif self.int_mode:
            spec, extra = ".0f", 1  # room for the trailing "."
        else:
            spec, extra = f".{_PRECISION}f", 0
        self.width = builtins.max(len(format(v, spec)) for v in vals.tolist()) + extra

    def format(self, v) -> str:
        if not self.floating:
            s = f"{v}"
        elif self.sci_mode:
            s = f"{v:.{_PRECISION}e}"
        elif self.int_mode:
            s = f"{v:.0f}" + ("" if _np.isinf(v) or _np.isnan(v) else ".")
        else:
            s = f"{v:.{_PRECISION}f}"
        return s.rjust(self.width)


def _summarized(a):
    """The edge items that a summarized print shows (the formatter sees only these)."""
    if a.ndim == 0:
        return a
    n = a.shape[0]
    if a.ndim == 1:
        return _np.concatenate([a[:_EDGE], a[-_EDGE:]]) if n > 2 * _EDGE else a
    rows = range(n) if n <= 2 * _EDGE else [*range(_EDGE), *range(n - _EDGE, n)]
    return _np.stack([_summarized(a[i]) for i in rows])


def _array_str(a, indent, summarize, fmt) -> str:
    if a.ndim == 0:
        return fmt.format(a.item())
    n = a.shape[0]
    cut = summarize and n > 2 * _EDGE
    if a.ndim == 1:
        per_line = builtins.max(1, (_LINEWIDTH - indent) // (fmt.width + 2))
        vals = a.tolist()
        items = ([fmt.format(v) for v in vals[:_EDGE]] + [" ..."] +
                 [fmt.format(v) for v in vals[-_EDGE:]]) if cut else [fmt.format(v) for v in vals]
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    rows = [*range(_EDGE), None, *range(n - _EDGE, n)] if cut else range(n)
    parts = ["..." if i is None else _array_str(a[i], indent + 1, summarize, fmt) for i in rows]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def _format(t: Tensor) -> str:
    arr = _host(t.data)
    prefix = "tensor("
    indent = len(prefix)
    suffixes = []
    if backend.namespace(t.data) is not _np:
        suffixes.append(f"device='{t.device}'")
    default_float = _dt.get_default_dtype().np
    if arr.size == 0:
        if arr.ndim != 1:
            suffixes.append(f"size={tuple(arr.shape)}")
        if arr.dtype != default_float:
            suffixes.append(f"dtype={t.dtype}")
        body = "[]"
    else:
        if arr.dtype not in (default_float, _np.dtype(_np.int64), _np.dtype(_np.bool_)):
            suffixes.append(f"dtype={t.dtype}")
        if arr.dtype == _np.float16:
            arr = arr.astype(_np.float32)
        summarize = arr.size > _THRESHOLD
        fmt = _Formatter(_summarized(arr) if summarize else arr)
        body = _array_str(arr, indent, summarize, fmt)
    if t._node is not None:
        suffixes.append(f"grad_fn=<{t._node.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    out = prefix + body
    last = len(out) - out.rfind("\n") + 1
    for s in suffixes:  # a suffix that would pass the line width goes on its own line
        if last + len(s) + 2 > _LINEWIDTH:
            out += ",\n" + " " * indent + s
            last = indent + len(s)
        else:
            out += ", " + s
            last += len(s) + 2
    return out + ")"


from . import autograd as _autograd  # noqa: E402
from . import ops as _ops  # noqa: E402 - ops import Tensor; the cycle closes here

for _name in _ops.METHODS:
    if _name not in Tensor.__dict__:
        setattr(Tensor, _name, getattr(_ops, _name))
