"""Errors teach: each message names the op and every input shape, and the exception types
are the ones PyTorch raises (ShapeError/DTypeError are also RuntimeError, as in torch)."""
import pytest

import fathom
from fathom.errors import DTypeError, ShapeError


def _raises(exc, fn, *needles):
    with pytest.raises(exc) as info:
        fn()
    msg = str(info.value)
    for n in needles:
        assert n in msg, f"{n!r} missing from: {msg}"
    return msg


def test_error_classes_catch_like_torch_and_python():
    assert issubclass(ShapeError, ValueError) and issubclass(ShapeError, RuntimeError)
    assert issubclass(DTypeError, TypeError) and issubclass(DTypeError, RuntimeError)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow", "maximum", "minimum",
                                "eq", "lt", "logical_and", "remainder"])
def test_broadcast_failure_names_op_and_both_shapes(op):
    a, b = fathom.ones(2, 3), fathom.ones(4)
    _raises(ShapeError, lambda: getattr(fathom, op)(a, b), f"{op}:", "(2, 3)", "(4,)",
            "cannot broadcast", "3 vs 4")


def test_broadcast_failure_through_operators_and_where():
    _raises(RuntimeError, lambda: fathom.ones(2, 3) + fathom.ones(4),
            "add: shapes (2, 3) and (4,) cannot broadcast (dim -1: 3 vs 4)")
    _raises(ShapeError, lambda: fathom.ones(2, 3) * fathom.ones(3, 2), "mul", "(2, 3)", "(3, 2)")
    _raises(ShapeError, lambda: fathom.where(fathom.ones(2) > 0, fathom.ones(3), fathom.ones(2)),
            "where", "(2,)", "(3,)")
    _raises(ShapeError, lambda: fathom.clamp(fathom.ones(2, 3), fathom.ones(4)), "clamp",
            "(2, 3)", "(4,)")


def test_matmul_inner_dim_mismatch_matches_style_example():
    _raises(ShapeError, lambda: fathom.ones(3, 4) @ fathom.ones(5, 6),
            "matmul: inner dimensions differ (a.shape[-1]=4, b.shape[-2]=5); "
            "got a (3, 4) and b (5, 6)")


def test_view_of_wrong_numel():
    msg = _raises(ShapeError, lambda: fathom.ones(64, 64, 5, 5).view(-1, 2304),
                  "view", "(64, 64, 5, 5)", "102400 elements", "(-1, 2304)")
    assert "cannot be viewed as (-1, 2304)" in msg
    _raises(ShapeError, lambda: fathom.ones(2, 3).reshape(4, 2), "reshape", "(2, 3)", "(4, 2)",
            "6 elements")
    _raises(ShapeError, lambda: fathom.ones(2, 3).view(-1, -1), "view", "-1")


def test_expand_and_permute():
    _raises(ShapeError, lambda: fathom.ones(2, 3).expand(4, 3), "expand", "(2, 3)", "(4, 3)")
    _raises(ShapeError, lambda: fathom.ones(2, 3).expand(3), "expand", "(2, 3)")
    _raises(ShapeError, lambda: fathom.ones(2, 3).permute(0, 0), "permute", "(0, 0)", "(2, 3)")
    _raises(ShapeError, lambda: fathom.ones(2, 3).permute(0), "permute", "(2, 3)")


def test_item_on_multi_element_tensor():
    _raises(RuntimeError, lambda: fathom.ones(2, 3).item(), "item()", "6 elements", "(2, 3)")


def test_backward_on_non_scalar_without_gradient():
    y = fathom.ones(2, 3, requires_grad=True) * 2
    _raises(RuntimeError, lambda: y.backward(), "backward", "scalar outputs", "(2, 3)",
            "gradient=")


def test_integer_tensor_requires_grad():
    _raises(RuntimeError, lambda: fathom.tensor([1, 2]).requires_grad_(), "floating point",
            "int64")


def test_inplace_on_leaf():
    w = fathom.ones(2, requires_grad=True)
    _raises(RuntimeError, lambda: w.add_(1), "add_", "leaf Variable that requires grad",
            "no_grad")


def test_inplace_dtype_and_shape_errors():
    _raises(RuntimeError, lambda: fathom.tensor([1, 2]).add_(1.5), "add_",
            "result type float32 can't be cast to the desired output type int64")
    _raises(RuntimeError, lambda: fathom.ones(3).mul_(fathom.ones(2, 3)), "mul_", "(3,)",
            "(2, 3)")


def test_dtype_errors_name_the_op():
    _raises(DTypeError, lambda: fathom.tensor([True]) - fathom.tensor([True]), "sub", "bool")
    _raises(DTypeError, lambda: -fathom.tensor([True]), "neg", "bool")
    _raises(DTypeError, lambda: fathom.ones(2) & fathom.ones(2), "bitwise_and", "float32")
    _raises(DTypeError, lambda: ~fathom.ones(2), "bitwise_not", "float32")


def test_argument_errors():
    _raises(IndexError, lambda: fathom.ones(2, 3).size(5), "size", "dim 5", "(2, 3)")
    _raises(ValueError, lambda: fathom.div(fathom.ones(2), 2, rounding_mode="round"), "div",
            "rounding_mode", "'round'")
    _raises(ValueError, lambda: fathom.clamp(fathom.ones(2)), "clamp", "min", "max")
    _raises(RuntimeError, lambda: bool(fathom.ones(3)), "3 values", "ambiguous")


def test_bad_input_loses_nothing():
    x = fathom.tensor([1, 2])
    with pytest.raises(RuntimeError):
        x += 0.5
    assert x.tolist() == [1, 2] and x._version == 0
