"""Keras optimizers (`keras.optimizers`) over `fathom.optim`, with Keras's update rules.

A Keras optimizer holds its hyperparameters (`learning_rate=`, Keras's defaults and
`get_config()`) until `build(params)` (done by `fit` after the model is built) creates
the `fathom.optim.Optimizer` that `fathom.train.Trainer` steps:
`optimizer.fathom_optimizer`. Each step applies, as Keras does, gradient clipping
(`clipvalue`, per-variable `clipnorm`, `global_clipnorm`), decoupled weight decay
`p -= lr * weight_decay * p` (every Keras optimizer; AdamW's default is 0.004), a
learning-rate schedule evaluated at `iterations`, then the update rule:

- SGD, Adadelta: `fathom.optim.SGD` / `Adadelta` (the same rule; Keras's SGD velocity is
  -lr times torch's momentum buffer, identical while the rate is constant).
- Adam, AdamW: `fathom.optim.Adam`, with Keras's epsilon placement
  (`m_hat_free * lr_t / (sqrt(v) + eps)`, the paper's "epsilon hat"): torch's formula
  with eps / sqrt(1 - beta2**t), so the numbers are Keras's.
- RMSprop, Adagrad, Adamax: Keras's rules, which differ from torch's in where epsilon
  goes (`g / sqrt(v + eps)` vs `g / (sqrt(v) + eps)`; Adamax `m / (u + eps)` vs
  `u = max(beta2 u, |g| + eps)`), written here as small `fathom.optim.Optimizer`
  subclasses.

    >>> opt = Adam(learning_rate=1e-3)
    >>> opt.get_config()["epsilon"]
    1e-07
"""
from __future__ import annotations

import math

from .. import backend
from ..nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_
from ..optim import SGD as _TorchSGD
from ..optim import Adadelta as _TorchAdadelta
from ..optim import Adam as _TorchAdam
from ..optim.optimizer import Optimizer as _FathomOptimizer

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "Adamax", "Adadelta",
           "schedules", "LearningRateSchedule", "ExponentialDecay", "InverseTimeDecay",
           "PiecewiseConstantDecay", "PolynomialDecay", "CosineDecay", "get", "serialize",
           "deserialize"]


# --- learning-rate schedules --------------------------------------------------------------
class LearningRateSchedule:
    """`schedule(step) -> learning rate`, evaluated at each optimizer step (0-based)."""

    def __call__(self, step):
        raise NotImplementedError

    def get_config(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


class ExponentialDecay(LearningRateSchedule):
    """initial_learning_rate * decay_rate ** (step / decay_steps) (floored with
    `staircase`)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        if decay_steps <= 0:
            raise ValueError(f"ExponentialDecay: decay_steps must be > 0, got {decay_steps}")
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.decay_rate, self.staircase, self.name = decay_rate, staircase, name

    def __call__(self, step):
        p = step / self.decay_steps
        return self.initial_learning_rate * self.decay_rate ** (math.floor(p)
                                                                 if self.staircase else p)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class InverseTimeDecay(LearningRateSchedule):
    """initial_learning_rate / (1 + decay_rate * step / decay_steps)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.decay_rate, self.staircase, self.name = decay_rate, staircase, name

    def __call__(self, step):
        p = step / self.decay_steps
        return self.initial_learning_rate / (1 + self.decay_rate *
                                             (math.floor(p) if self.staircase else p))

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[i] while step <= boundaries[i] (values has one more entry)."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"PiecewiseConstantDecay: values needs one more entry than "
                             f"boundaries; got {len(values)} values, {len(boundaries)} "
                             "boundaries")
        self.boundaries, self.values, self.name = list(boundaries), list(values), name

    def __call__(self, step):
        for b, v in zip(self.boundaries, self.values):
            if step <= b:
                return v
        return self.values[-1]

    def get_config(self) -> dict:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """(initial - end) * (1 - step / decay_steps) ** power + end, held at `end` after
    decay_steps (or cycling with `cycle`)."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001,
                 power=1.0, cycle=False, name="PolynomialDecay"):
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.end_learning_rate, self.power, self.cycle = end_learning_rate, power, cycle
        self.name = name

    def __call__(self, step):
        steps = self.decay_steps
        if self.cycle:
            steps = steps * max(1.0, math.ceil(step / steps))
        else:
            step = min(step, steps)
        frac = (1 - step / steps) ** self.power
        return (self.initial_learning_rate - self.end_learning_rate) * frac + \
            self.end_learning_rate

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power, "cycle": self.cycle, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Optional linear warmup to `warmup_target` over `warmup_steps`, then cosine decay
    over `decay_steps` down to alpha times the peak."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.alpha, self.name = alpha, name
        self.warmup_target, self.warmup_steps = warmup_target, warmup_steps

    def __call__(self, step):
        peak = self.initial_learning_rate if self.warmup_target is None else self.warmup_target
        if self.warmup_target is not None and step < self.warmup_steps:
            return self.initial_learning_rate + (peak - self.initial_learning_rate) * \
                step / self.warmup_steps
        done = min(step - self.warmup_steps, self.decay_steps) / self.decay_steps
        return peak * ((1 - self.alpha) * 0.5 * (1 + math.cos(math.pi * done)) + self.alpha)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


_SCHEDULES = {c.__name__: c for c in (ExponentialDecay, InverseTimeDecay,
                                      PiecewiseConstantDecay, PolynomialDecay, CosineDecay)}


class _Namespace:
    """`keras.optimizers.schedules.ExponentialDecay(...)`: the schedules by attribute."""

    def __init__(self, **items):
        self.__dict__.update(items)


schedules = _Namespace(LearningRateSchedule=LearningRateSchedule, **_SCHEDULES)


# --- the fathom optimizers a Keras optimizer builds ---------------------------------------
class _KerasSteps:
    """Mixin: Keras's per-step extras (schedule, clipping, decoupled weight decay) around
    the fathom rule, and `iterations` carried in the state dict."""

    keras = None  # the keras Optimizer that built this one

    def step(self, closure=None):
        self.keras._before_step(self)
        loss = super().step(closure)
        self.keras.iterations += 1
        return loss

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["keras_iterations"] = int(self.keras.iterations)
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        iterations = state_dict.pop("keras_iterations", None)
        super().load_state_dict(state_dict)
        if iterations is not None:
            self.keras.iterations = int(iterations)


class _SGDRule(_KerasSteps, _TorchSGD):
    pass


class _AdadeltaRule(_KerasSteps, _TorchAdadelta):
    pass


class _AdamRule(_KerasSteps, _TorchAdam):
    """group['eps'] is Keras's epsilon: torch's rule with eps / sqrt(1 - beta2**t) gives
    `lr * sqrt(1 - beta2**t) / (1 - beta1**t) * m / (sqrt(v) + eps)`, Keras's update."""

    def _update(self, p, g, state, group):
        t = state.get("step", 0.0) + 1
        beta2 = float(group["betas"][1])
        eps = group["eps"] / math.sqrt(1.0 - beta2 ** t)
        super()._update(p, g, state, {**group, "eps": eps})


class _RMSpropRule(_KerasSteps, _FathomOptimizer):
    """Keras's RMSprop: v <- rho v + (1 - rho) g^2 (a <- rho a + (1 - rho) g, centered);
    step = lr g / sqrt(v [- a^2] + eps); with momentum b <- momentum b + step, p -= b;
    else p -= step. (Torch divides by sqrt(v) + eps and applies lr after momentum.)"""

    def __init__(self, params, lr, rho, momentum, eps, centered):
        super().__init__(params, dict(lr=lr, rho=rho, momentum=momentum, eps=eps,
                                      centered=centered))

    def _update(self, p, g, state, group):
        xp = backend.namespace(p)
        if not state:
            state["step"] = 0.0
            state["velocity"] = xp.zeros_like(p)
            if group["momentum"] > 0:
                state["momentum"] = xp.zeros_like(p)
            if group["centered"]:
                state["average_gradient"] = xp.zeros_like(p)
        state["step"] += 1
        rho, lr = float(group["rho"]), float(group["lr"])
        v = state["velocity"]
        v *= rho
        v += (1 - rho) * (g * g)
        if group["centered"]:
            a = state["average_gradient"]
            a *= rho
            a += (1 - rho) * g
            denominator = v - a * a
        else:
            denominator = v.copy()
        denominator += group["eps"]
        increment = xp.sqrt(denominator, out=denominator)
        xp.divide(g, increment, out=increment)
        increment *= lr
        if group["momentum"] > 0:
            b = state["momentum"]
            b *= group["momentum"]
            b += increment
            increment = b
        p -= increment


class _AdagradRule(_KerasSteps, _FathomOptimizer):
    """Keras's Adagrad: s <- s + g^2 (s starts at initial_accumulator_value);
    p -= lr g / sqrt(s + eps)."""

    def __init__(self, params, lr, initial_accumulator_value, eps):
        super().__init__(params, dict(lr=lr, initial_accumulator_value=initial_accumulator_value,
                                      eps=eps))

    def _update(self, p, g, state, group):
        xp = backend.namespace(p)
        if not state:
            state["step"] = 0.0
            state["accumulator"] = xp.full_like(p, group["initial_accumulator_value"])
        state["step"] += 1
        s = state["accumulator"]
        s += g * g
        tmp = s + group["eps"]
        xp.sqrt(tmp, out=tmp)
        xp.divide(g, tmp, out=tmp)
        tmp *= float(group["lr"])
        p -= tmp


class _AdamaxRule(_KerasSteps, _FathomOptimizer):
    """Keras's Adamax: m <- m + (g - m)(1 - beta1); u <- max(beta2 u, |g|);
    p -= lr m / ((1 - beta1^t)(u + eps))."""

    def __init__(self, params, lr, betas, eps):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps))

    def _update(self, p, g, state, group):
        xp = backend.namespace(p)
        if not state:
            state["step"] = 0.0
            state["m"] = xp.zeros_like(p)
            state["u"] = xp.zeros_like(p)
        t = state["step"] = state["step"] + 1
        beta1, beta2 = map(float, group["betas"])
        m, u = state["m"], state["u"]
        m += (g - m) * (1 - beta1)
        xp.maximum(u * beta2, xp.abs(g), out=u)
        tmp = u + group["eps"]
        xp.divide(m, tmp, out=tmp)
        tmp *= float(group["lr"]) / (1 - beta1 ** t)
        p -= tmp


# --- the Keras face -----------------------------------------------------------------------
class Optimizer:
    """Base: Keras's common arguments; subclasses give `_make(params)` and their config.

    `learning_rate` reads and sets the rate (a float; with a schedule, the schedule's
    value at `iterations`); `iterations` counts optimizer steps.
    """

    def __init__(self, learning_rate=0.001, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected arguments {sorted(kwargs)}")
        if use_ema:
            raise NotImplementedError(f"{type(self).__name__}(use_ema=True) is not supported "
                                      "by fathom.keras (hint: fathom.train.Trainer's "
                                      "ema_decay keeps an average of the weights)")
        if loss_scale_factor is not None:
            raise NotImplementedError(f"{type(self).__name__}: loss_scale_factor is not "
                                      "supported (fathom trains in float32)")
        if clipnorm is not None and global_clipnorm is not None:
            raise ValueError("Only one of `clipnorm` and `global_clipnorm` can be set")
        if gradient_accumulation_steps is not None and int(gradient_accumulation_steps) < 2:
            raise ValueError("gradient_accumulation_steps must be an integer >= 2, got "
                             f"{gradient_accumulation_steps}")
        if not isinstance(learning_rate, LearningRateSchedule):
            learning_rate = float(learning_rate)
            if learning_rate < 0:
                raise ValueError(f"{type(self).__name__}: learning_rate must be >= 0, got "
                                 f"{learning_rate}")
        self._learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, \
            global_clipnorm
        self.use_ema, self.ema_momentum = use_ema, ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.name = name or _snake(type(self).__name__)
        self.iterations = 0
        self.fathom_optimizer = None

    # --- building and stepping ---------------------------------------------------------
    @property
    def built(self) -> bool:
        return self.fathom_optimizer is not None

    def build(self, variables) -> None:
        """Create the fathom optimizer over `variables` (parameters; the trainable ones
        are kept). Building again (a recompiled or rebuilt model) starts a fresh state."""
        params = [p for p in variables if getattr(p, "requires_grad", True)]
        if not params:
            raise ValueError(f"{type(self).__name__}.build: the model has no trainable "
                             "parameters (is it built? are all its layers frozen?)")
        opt = self._make(params, self._rate_at(self.iterations))
        opt.keras = self
        self.fathom_optimizer = opt

    def _make(self, params, lr):
        raise NotImplementedError

    def _rate_at(self, step) -> float:
        lr = self._learning_rate
        return float(lr(step)) if isinstance(lr, LearningRateSchedule) else lr

    def _before_step(self, opt) -> None:
        if isinstance(self._learning_rate, LearningRateSchedule):
            lr = self._rate_at(self.iterations)
            for group in opt.param_groups:
                group["lr"] = lr
        params = [p for group in opt.param_groups for p in group["params"]
                  if p.grad is not None]
        if self.clipvalue is not None:
            clip_grad_value_(params, self.clipvalue)
        if self.clipnorm is not None:
            for p in params:  # Keras clips each variable's gradient on its own
                clip_grad_norm_([p], self.clipnorm)
        if self.global_clipnorm is not None:
            clip_grad_norm_(params, self.global_clipnorm)
        if self.weight_decay:
            lr = float(opt.param_groups[0]["lr"])
            for p in params:  # decoupled, before the update, as Keras's apply()
                p.data *= 1.0 - lr * float(self.weight_decay)
                p._vc[0] += 1

    def apply_gradients(self, grads_and_vars) -> None:
        """Keras's apply_gradients: set each variable's gradient and take one step."""
        pairs = list(grads_and_vars)
        if not self.built:
            self.build([v for _, v in pairs])
        from ..creation import as_tensor  # noqa: PLC0415
        for g, v in pairs:
            v.grad = g if g is None or hasattr(g, "data") else as_tensor(g)
        self.fathom_optimizer.step()
        self.fathom_optimizer.zero_grad(set_to_none=True)

    # --- learning rate ---------------------------------------------------------------------
    @property
    def learning_rate(self) -> float:
        if self.built and not isinstance(self._learning_rate, LearningRateSchedule):
            return float(self.fathom_optimizer.param_groups[0]["lr"])
        return self._rate_at(self.iterations)

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if isinstance(self._learning_rate, LearningRateSchedule):
            raise TypeError("This optimizer was created with a `LearningRateSchedule`; its "
                            "learning rate cannot be set (hint: give a float learning_rate)")
        if isinstance(value, LearningRateSchedule):
            raise TypeError("learning_rate: set a schedule in the constructor")
        self._learning_rate = float(value)
        if self.built:
            for group in self.fathom_optimizer.param_groups:
                group["lr"] = float(value)

    lr = learning_rate  # Keras 2's alias

    # --- config ----------------------------------------------------------------------------
    def get_config(self) -> dict:
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            lr = {"class_name": type(lr).__name__, "config": lr.get_config()}
        else:
            lr = self.learning_rate
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm,
                "clipvalue": self.clipvalue, "use_ema": self.use_ema,
                "ema_momentum": self.ema_momentum,
                "ema_overwrite_frequency": self.ema_overwrite_frequency,
                "loss_scale_factor": self.loss_scale_factor,
                "gradient_accumulation_steps": self.gradient_accumulation_steps}

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        lr = config.get("learning_rate")
        if isinstance(lr, dict):
            name = lr.get("class_name")
            if name not in _SCHEDULES:
                raise ValueError(f"unknown learning-rate schedule {name!r}; known: "
                                 f"{sorted(_SCHEDULES)}")
            config["learning_rate"] = _SCHEDULES[name].from_config(lr.get("config") or {})
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(learning_rate={self.learning_rate!r})"


class SGD(Optimizer):
    """Gradient descent with `momentum` (0.0) and `nesterov`; learning_rate 0.01."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name="SGD", **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm,
                         use_ema, ema_momentum, ema_overwrite_frequency, loss_scale_factor,
                         gradient_accumulation_steps, name, **kwargs)
        if not 0 <= momentum <= 1:
            raise ValueError(f"SGD: momentum must be in [0, 1], got {momentum}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def _make(self, params, lr):
        return _SGDRule(params, lr=lr, momentum=self.momentum,
                        nesterov=self.nesterov and self.momentum > 0)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """RMSprop with Keras's rule (see the module docstring): rho 0.9, epsilon 1e-7."""

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-07,
                 centered=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name="rmsprop", **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm,
                         use_ema, ema_momentum, ema_overwrite_frequency, loss_scale_factor,
                         gradient_accumulation_steps, name, **kwargs)
        self.rho, self.momentum = float(rho), float(momentum)
        self.epsilon, self.centered = float(epsilon), bool(centered)

    def _make(self, params, lr):
        return _RMSpropRule(params, lr, self.rho, self.momentum, self.epsilon, self.centered)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


class Adam(Optimizer):
    """Adam with Keras's epsilon placement: beta_1 0.9, beta_2 0.999, epsilon 1e-7."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-07,
                 amsgrad=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name="adam", **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm,
                         use_ema, ema_momentum, ema_overwrite_frequency, loss_scale_factor,
                         gradient_accumulation_steps, name, **kwargs)
        self.beta_1, self.beta_2 = float(beta_1), float(beta_2)
        self.epsilon, self.amsgrad = float(epsilon), bool(amsgrad)

    def _make(self, params, lr):
        return _AdamRule(params, lr=lr, betas=(self.beta_1, self.beta_2), eps=self.epsilon,
                         amsgrad=self.amsgrad)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (weight_decay 0.004, Keras's default)."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-07, amsgrad=False, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name="adamw", **kwargs):
        if weight_decay is None:
            raise ValueError("AdamW: weight_decay must be a float (Keras's default: 0.004)")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay,
                         clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
                         ema_overwrite_frequency, loss_scale_factor,
                         gradient_accumulation_steps, name, **kwargs)


class Adagrad(Optimizer):
    """Adagrad with Keras's rule: initial_accumulator_value 0.1, epsilon 1e-7."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-07,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name="adagrad",
                 **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm,
                         use_ema, ema_momentum, ema_overwrite_frequency, loss_scale_factor,
                         gradient_accumulation_steps, name, **kwargs)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)

    def _make(self, params, lr):
        return _AdagradRule(params, lr, self.initial_accumulator_value, self.epsilon)

    def get_config(self):
        return {**super().get_config(),
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


class Adamax(Optimizer):
    """Adamax with Keras's rule: beta_1 0.9, beta_2 0.999, epsilon 1e-7."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-07,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name="adamax",
                 **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm,
                         use_ema, ema_momentum, ema_overwrite_frequency, loss_scale_factor,
                         gradient_accumulation_steps, name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def _make(self, params, lr):
        return _AdamaxRule(params, lr, (self.beta_1, self.beta_2), self.epsilon)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


class Adadelta(Optimizer):
    """Adadelta (the same rule as torch's): rho 0.95, epsilon 1e-7, learning_rate 0.001."""

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-07, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name="adadelta", **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm,
                         use_ema, ema_momentum, ema_overwrite_frequency, loss_scale_factor,
                         gradient_accumulation_steps, name, **kwargs)
        self.rho, self.epsilon = float(rho), float(epsilon)

    def _make(self, params, lr):
        return _AdadeltaRule(params, lr=lr, rho=self.rho, eps=self.epsilon)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


# --- names --------------------------------------------------------------------------------
_CLASSES = {c.__name__: c for c in (SGD, RMSprop, Adam, AdamW, Adagrad, Adamax, Adadelta)}
_NAMES = {name.lower(): cls for name, cls in _CLASSES.items()}


def _snake(name: str) -> str:
    return name.lower()


def get(identifier) -> Optimizer:
    """An optimizer from a name ('adam', 'sgd', 'rmsprop', 'adagrad', 'adamax', 'adamw',
    'adadelta'; Keras's defaults), a `{'class_name', 'config'}` dict, or an Optimizer (as
    is)."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _NAMES.get(identifier.lower())
        if cls is None:
            raise ValueError(f"Unknown optimizer {identifier!r}; known: {sorted(_NAMES)}")
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, _FathomOptimizer):
        raise TypeError("compile(optimizer=...) takes a keras optimizer or its name, not a "
                        f"fathom.optim.{type(identifier).__name__} (it is built over the "
                        "model's parameters after the model is built: pass "
                        "keras.optimizers.Adam(learning_rate=...) instead)")
    raise TypeError(f"Could not interpret optimizer identifier {identifier!r}")


def serialize(optimizer) -> dict | str:
    if isinstance(optimizer, str):
        return optimizer
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config: dict) -> Optimizer:
    """An optimizer from `serialize`'s dict; only this module's classes."""
    name = config.get("class_name") if isinstance(config, dict) else None
    if name not in _CLASSES:
        raise ValueError(f"keras.optimizers.deserialize: unknown optimizer class {name!r}; "
                         f"known: {sorted(_CLASSES)}")
    return _CLASSES[name].from_config(dict(config.get("config") or {}))
