"""Keras's BatchNormalization and LayerNormalization over fathom.nn.functional."""
from __future__ import annotations

from ...autograd.grad_mode import no_grad
from ...creation import zeros
from ...nn import functional as F
from .. import initializers
from .base import Layer
from .core import known_dim

__all__ = ["BatchNormalization", "LayerNormalization"]


class BatchNormalization(Layer):
    """Normalize the `axis` features (default -1, channels-last) over the batch (and every
    other axis); any shape (N, ..., C).

    Keras's momentum=0.99 keeps 99% of the moving statistics per step: PyTorch's
    momentum 0.01. Weights gamma, beta (trainable), moving_mean, moving_variance (not),
    stored as torch BatchNorm's weight, bias, running_mean, running_var. The moving
    variance is updated with the biased batch variance, as Keras does (PyTorch uses the
    unbiased one). With `trainable=False` the layer runs in inference mode, as in Keras.
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, int):
            raise NotImplementedError("BatchNormalization: only a single int axis is supported")
        self.axis, self.momentum, self.epsilon = axis, float(momentum), float(epsilon)
        self.center, self.scale = center, scale
        self.inits = {k: initializers.get(v) for k, v in (
            ("beta", beta_initializer), ("gamma", gamma_initializer),
            ("moving_mean", moving_mean_initializer),
            ("moving_variance", moving_variance_initializer))}
        self.weight = self.bias = None

    def build(self, input_shape):
        c = known_dim(self, input_shape, self.axis)
        self.ndim = len(input_shape)
        if self.scale:
            self._add_weight("gamma", (c,), self.inits["gamma"], attr="weight")
        if self.center:
            self._add_weight("beta", (c,), self.inits["beta"], attr="bias")
        self._add_weight("moving_mean", (c,), self.inits["moving_mean"], attr="running_mean",
                        buffer=True)
        self._add_weight("moving_variance", (c,), self.inits["moving_variance"],
                        attr="running_var", buffer=True)

    def call(self, inputs, training=None):
        axis = self.axis % inputs.ndim
        x = inputs if axis == 1 else inputs.movedim(axis, 1)
        if not (self._mode(training) and self.trainable):
            y = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                             False, 0.0, self.epsilon)
            return y if axis == 1 else y.movedim(1, axis)
        rate = 1.0 - self.momentum
        # F.batch_norm folds the unbiased variance into running_var (PyTorch's rule); Keras
        # folds the biased one. Let it fold into zeros (giving rate * unbiased) and rescale.
        scratch = zeros(x.shape[1], dtype=x.dtype, device=x.device)
        y = F.batch_norm(x, self.running_mean, scratch, self.weight, self.bias, True, rate,
                         self.epsilon)
        count = x.numel() // x.shape[1]
        with no_grad():
            self.running_var.mul_(self.momentum).add_(scratch * ((count - 1) / count))
        return y if axis == 1 else y.movedim(1, axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                **{f"{k}_initializer": initializers.serialize(v) for k, v in self.inits.items()}}


class LayerNormalization(Layer):
    """Normalize each sample over its trailing `axis` features (default -1): any shape.

    Weights gamma, beta (shape of the normalized axes), stored as torch LayerNorm's
    weight and bias. Keras's epsilon default is 1e-3. Only trailing axes are supported.
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", **kwargs):
        super().__init__(**kwargs)
        self.axis = axis if isinstance(axis, int) else list(axis)
        self.epsilon, self.center, self.scale = float(epsilon), center, scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.weight = self.bias = None

    def build(self, input_shape):
        n = len(input_shape)
        axes = sorted(a % n for a in ([self.axis] if isinstance(self.axis, int) else self.axis))
        if axes != list(range(axes[0], n)) or axes[0] == 0:
            raise NotImplementedError(f"LayerNormalization '{self.name}': only trailing "
                                      f"non-batch axes are supported; got axis {self.axis} for "
                                      f"input shape {input_shape}")
        self.shape = tuple(known_dim(self, input_shape, a) for a in axes)
        if self.scale:
            self._add_weight("gamma", self.shape, self.gamma_initializer, attr="weight")
        if self.center:
            self._add_weight("beta", self.shape, self.beta_initializer, attr="bias")

    def call(self, inputs):
        return F.layer_norm(inputs, self.shape, self.weight, self.bias, self.epsilon)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer)}
