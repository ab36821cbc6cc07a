"""Exceptions that teach: each names the op, every input's shape, and the rule broken.

Template: `<op>: <rule broken>; got <arg> shape S1 and <arg> shape S2 (hint: ...)`.
The classes subclass the built-in exceptions that PyTorch raises for the same
mistakes (RuntimeError, for shapes and dtypes too) as well as the Pythonic ones,
so both `except ValueError` and ported `except RuntimeError` code keep working.
"""
from __future__ import annotations


class ShapeError(ValueError, RuntimeError):
    """Shapes that do not fit the op."""


class DTypeError(TypeError, RuntimeError):
    """A dtype the op does not accept."""


class DeviceError(RuntimeError):
    """Operands on different devices."""


class GradShapeError(RuntimeError):
    """A backward returned a gradient whose shape does not fit its input."""


def require_float(op: str, x) -> None:
    """Raise DTypeError unless tensor `x` is floating point (math that needs fractions)."""
    dt = getattr(x, "dtype", None)
    if dt is not None and not dt.is_floating_point:
        raise DTypeError(f"{op}: expected a floating point input, got {dt} with shape "
                         f"{fmt_shape(x.shape)} (hint: call .float() first)")


def fmt_shape(shape) -> str:
    """(2, 3) -> '(2, 3)'; () -> '()'; (5,) -> '(5,)'."""
    return str(tuple(shape))


def broadcast_shapes(op: str, *shapes) -> tuple:
    """The broadcast of `shapes`, or a ShapeError naming the op and the failing dim."""
    ndim = max(len(s) for s in shapes)
    out = []
    for i in range(-1, -ndim - 1, -1):
        size = 1
        for s in shapes:
            if len(s) >= -i and s[i] != 1:
                if size != 1 and s[i] != size:
                    got = " and ".join(fmt_shape(x) for x in shapes)
                    sizes = " vs ".join(str(x[i]) if len(x) >= -i else "-" for x in shapes)
                    raise ShapeError(f"{op}: shapes {got} cannot broadcast "
                                     f"(dim {i}: {sizes})")
                size = s[i]
        out.append(size)
    return tuple(reversed(out))


def normalize_dim(op: str, dim: int, ndim: int, shape=None) -> int:
    """Wrap a negative dim; an out-of-range dim names the op, the dim and the shape."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        where = f" of shape {fmt_shape(shape)}" if shape is not None else f" with {ndim} dims"
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor{where} "
                         f"(expected a dim in [{-n}, {n - 1}])")
    return dim % n if ndim else 0
