"""Layer cases: the activation modules (inputs kept away from each function's kinks so the
gradients are well defined; in-place forms run on a Linear's output, not on a leaf)."""
import numpy as np

from . import LayerCase, normal


def away(*shape, scale=1.0, kinks=(0.0,)):
    """Normal inputs (times `scale`), none within 0.05 of a kink (moved 0.1 off it)."""
    def make(rng):
        x = np.asarray(rng.standard_normal(shape) * scale)
        for k in kinks:
            near = np.abs(x - k) < 0.05
            x[near] = k + np.where(x[near] >= k, 0.1, -0.1)
        return x
    return make


def act(name, make, inputs=None, **kw):
    return LayerCase(name, make, inputs or away(3, 4), **kw)


def after_linear(name, layer, **kw):
    """`layer` (in place) on a Linear's output: an in-place edit of a leaf is an error."""
    return LayerCase(name, lambda nn: nn.Sequential(nn.Linear(5, 4), layer(nn)), normal(3, 5),
                     **kw)


CASES = [
    act("ReLU", lambda nn: nn.ReLU()),
    act("ReLU-4d", lambda nn: nn.ReLU(), away(2, 3, 4, 5)),
    act("ReLU-scalar", lambda nn: nn.ReLU(), away()),
    act("ReLU6", lambda nn: nn.ReLU6(), away(4, 5, scale=4, kinks=(0.0, 6.0))),
    act("LeakyReLU", lambda nn: nn.LeakyReLU()),
    act("LeakyReLU-slope", lambda nn: nn.LeakyReLU(0.2), away(2, 3, 4)),
    act("ELU", lambda nn: nn.ELU()),
    act("ELU-alpha", lambda nn: nn.ELU(alpha=0.5), away(2, 6, scale=3)),
    act("SELU", lambda nn: nn.SELU(), away(2, 6, scale=2)),
    act("CELU", lambda nn: nn.CELU()),
    act("CELU-alpha", lambda nn: nn.CELU(2.0), away(2, 6, scale=3)),
    act("GELU", lambda nn: nn.GELU(), normal(3, 4, scale=2)),
    act("GELU-tanh", lambda nn: nn.GELU(approximate="tanh"), normal(3, 4, scale=2)),
    act("SiLU", lambda nn: nn.SiLU(), normal(3, 4, scale=3)),
    act("Mish", lambda nn: nn.Mish(), normal(3, 4, scale=3)),
    act("Sigmoid", lambda nn: nn.Sigmoid(), normal(3, 4, scale=3)),
    act("Tanh", lambda nn: nn.Tanh(), normal(2, 3, 4)),
    act("Softsign", lambda nn: nn.Softsign()),
    act("Tanhshrink", lambda nn: nn.Tanhshrink(), normal(3, 4, scale=2)),
    act("LogSigmoid", lambda nn: nn.LogSigmoid(), normal(3, 4, scale=5)),
    act("Hardtanh", lambda nn: nn.Hardtanh(), away(4, 5, scale=2, kinks=(-1.0, 1.0))),
    act("Hardtanh-range", lambda nn: nn.Hardtanh(-2.0, 3.0),
        away(4, 5, scale=3, kinks=(-2.0, 3.0))),
    act("Hardsigmoid", lambda nn: nn.Hardsigmoid(), away(4, 5, scale=4, kinks=(-3.0, 3.0))),
    act("Hardswish", lambda nn: nn.Hardswish(), away(4, 5, scale=4, kinks=(-3.0, 3.0))),
    act("Hardshrink", lambda nn: nn.Hardshrink(), away(4, 5, kinks=(-0.5, 0.5))),
    act("Hardshrink-lambd", lambda nn: nn.Hardshrink(1.2), away(4, 5, scale=2, kinks=(-1.2, 1.2))),
    act("Softshrink", lambda nn: nn.Softshrink(), away(4, 5, kinks=(-0.5, 0.5))),
    act("Softshrink-lambd", lambda nn: nn.Softshrink(lambd=1.0),
        away(4, 5, scale=2, kinks=(-1.0, 1.0))),
    act("Softplus", lambda nn: nn.Softplus(), normal(3, 4, scale=3)),
    act("Softplus-beta", lambda nn: nn.Softplus(beta=2, threshold=5),
        away(4, 5, scale=3, kinks=(2.5,))),
    act("Threshold", lambda nn: nn.Threshold(0.1, 20.0), away(4, 5, kinks=(0.1,))),
    act("Threshold-negative", lambda nn: nn.Threshold(-0.5, -3), away(4, 5, kinks=(-0.5,))),
    act("Softmax", lambda nn: nn.Softmax(dim=1), normal(3, 5),
        errors=[(normal(4), None, ["Softmax(dim=1)", "out of range", "(4,)"])]),
    act("Softmax-dim0", lambda nn: nn.Softmax(0), normal(3, 5)),
    act("Softmax-3d-last", lambda nn: nn.Softmax(dim=-1), normal(2, 3, 4)),
    act("Softmax-3d-middle", lambda nn: nn.Softmax(dim=1), normal(2, 3, 4)),
    act("Softmax-dim-out-of-range", lambda nn: nn.Softmax(dim=3), normal(2, 3, 4, 5),
        errors=[(normal(4, 5), None, ["Softmax(dim=3)", "dim 3 is out of range", "(4, 5)"])]),
    act("LogSoftmax", lambda nn: nn.LogSoftmax(dim=1), normal(3, 5, scale=3),
        errors=[(normal(5), None, ["LogSoftmax(dim=1)", "out of range", "(5,)"])]),
    act("LogSoftmax-last", lambda nn: nn.LogSoftmax(-1), normal(2, 3, 4)),
    act("Softmin", lambda nn: nn.Softmin(dim=1), normal(3, 5),
        errors=[(normal(5), None, ["Softmin(dim=1)", "out of range"])]),
    act("Softmax2d", lambda nn: nn.Softmax2d(), normal(2, 3, 4, 5),
        errors=[(normal(3, 4), None, ["Softmax2d", "(3, 4)"])]),
    act("Softmax2d-unbatched", lambda nn: nn.Softmax2d(), normal(3, 4, 5)),
    act("GLU", lambda nn: nn.GLU(), normal(4, 6),
        errors=[(normal(4, 5), None, ["GLU(dim=-1)", "5", "(4, 5)"])]),
    act("GLU-dim1", lambda nn: nn.GLU(dim=1), normal(2, 4, 3)),
    act("GLU-dim0", lambda nn: nn.GLU(0), normal(6, 2),
        errors=[(normal(3, 2), None, ["GLU(dim=0)", "(3, 2)"])]),
    act("PReLU", lambda nn: nn.PReLU()),
    act("PReLU-1d", lambda nn: nn.PReLU(), away(7)),
    act("PReLU-channels", lambda nn: nn.PReLU(num_parameters=3, init=0.1), away(2, 3, 5),
        errors=[(normal(2, 4, 5), None, ["PReLU(num_parameters=3)", "(2, 4, 5)"])]),
    act("PReLU-channels-4d", lambda nn: nn.PReLU(4), away(2, 4, 3, 3)),
    act("PReLU-channels-2d", lambda nn: nn.PReLU(4, init=-0.3), away(3, 4)),
    act("RReLU", lambda nn: nn.RReLU(), away(4, 5), stochastic_train=True),
    act("RReLU-bounds", lambda nn: nn.RReLU(0.1, 0.3), away(4, 5), stochastic_train=True),
    act("RReLU-equal-bounds", lambda nn: nn.RReLU(0.2, 0.2), away(4, 5)),

    # in place, on a non-leaf (and repr showing inplace=True, or not, as PyTorch)
    after_linear("ReLU-inplace", lambda nn: nn.ReLU(inplace=True)),
    after_linear("ReLU6-inplace", lambda nn: nn.ReLU6(inplace=True)),
    after_linear("LeakyReLU-inplace", lambda nn: nn.LeakyReLU(0.1, inplace=True)),
    after_linear("ELU-inplace", lambda nn: nn.ELU(inplace=True)),
    after_linear("SELU-inplace", lambda nn: nn.SELU(inplace=True)),
    after_linear("CELU-inplace", lambda nn: nn.CELU(0.5, inplace=True)),
    after_linear("Hardtanh-inplace", lambda nn: nn.Hardtanh(-0.5, 0.5, inplace=True)),
    after_linear("Hardsigmoid-inplace", lambda nn: nn.Hardsigmoid(inplace=True)),
    after_linear("Hardswish-inplace", lambda nn: nn.Hardswish(inplace=True)),
    after_linear("SiLU-inplace", lambda nn: nn.SiLU(inplace=True)),
    after_linear("Mish-inplace", lambda nn: nn.Mish(inplace=True)),
    after_linear("Threshold-inplace", lambda nn: nn.Threshold(0.1, 2.0, inplace=True)),
    after_linear("RReLU-inplace", lambda nn: nn.RReLU(inplace=True), stochastic_train=True),
]
