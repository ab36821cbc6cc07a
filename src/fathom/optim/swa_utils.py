"""Weight averaging: PyTorch's `torch.optim.swa_utils`.

`AveragedModel` keeps a copy of a model whose parameters are a running average of the
model's over `update_parameters` calls: the equal-weight mean (SWA, Izmailov et al. 2018)
by default, or an exponential moving average with `multi_avg_fn=get_ema_multi_avg_fn(d)`.
`SWALR` anneals the learning rate to a constant SWA rate; `update_bn` recomputes batch-norm
statistics for the averaged weights.

    >>> import fathom
    >>> net = fathom.nn.Linear(3, 2)
    >>> swa = AveragedModel(net)
    >>> swa.update_parameters(net)
    >>> int(swa.n_averaged)
    1

The averaging functions receive lists of detached Tensors (sharing memory with the averaged
copy) and the count, and update the first list in place, as in PyTorch.
"""
from __future__ import annotations

import copy
import math
import warnings

from .. import backend
from ..autograd.grad_mode import no_grad
from ..creation import tensor as _tensor
from ..dtypes import int64
from ..nn.module import Module
from ..nn.normalization import _BatchNorm
from ..tensor import Tensor
from .lr_scheduler import LRScheduler, _per_group

__all__ = ["AveragedModel", "update_bn", "SWALR", "get_ema_multi_avg_fn",
           "get_swa_multi_avg_fn", "get_ema_avg_fn", "get_swa_avg_fn"]


def _check_decay(decay) -> None:
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in "
                         "[0,1] range.")


def _lerp_(a, b, w: float) -> None:
    """a <- a + w * (b - a) in place, in PyTorch's two-sided form (exact at w = 1)."""
    if w < 0.5:
        a += w * (b - a)
    else:
        a[...] = b - (b - a) * (1 - w)


def _f32(a):
    # Integer tensor times a Python float is float32 (the default dtype) in PyTorch.
    return a.astype("float32")


def _int_mean_(a, b, n: int) -> None:
    """The running mean on an integer buffer (num_batches_tracked), as PyTorch computes it:
    in float32, truncated back."""
    a[...] = _f32(a) + _f32(b - a) / _f32(a.dtype.type(n + 1))


def _count(n) -> int:
    return int(n.item()) if isinstance(n, Tensor) else int(n)


def _is_float(t: Tensor) -> bool:
    return t.data.dtype.kind in "fc"


def get_ema_multi_avg_fn(decay=0.999):
    """`fn(ema_params, params, n)`: ema <- decay * ema + (1 - decay) * param, in place."""
    _check_decay(decay)

    def ema_update(ema_param_list, current_param_list, _):
        if _is_float(ema_param_list[0]):
            for e, p in zip(ema_param_list, current_param_list):
                _lerp_(e.data, p.data, 1 - decay)
        else:
            for e, p in zip(ema_param_list, current_param_list):
                e.data[...] = _f32(e.data) * decay + _f32(p.data) * (1 - decay)
    return ema_update


def get_swa_multi_avg_fn():
    """`fn(avg_params, params, n)`: avg <- avg + (param - avg) / (n + 1), in place."""

    def swa_update(averaged_param_list, current_param_list, num_averaged):
        n = _count(num_averaged)
        if _is_float(averaged_param_list[0]):
            for a, p in zip(averaged_param_list, current_param_list):
                _lerp_(a.data, p.data, 1 / (n + 1))
        else:
            for a, p in zip(averaged_param_list, current_param_list):
                _int_mean_(a.data, p.data, n)
    return swa_update


def get_ema_avg_fn(decay=0.999):
    """`fn(ema, param, n)` returning decay * ema + (1 - decay) * param."""
    _check_decay(decay)

    def ema_update(ema_param, current_param, num_averaged):
        return decay * ema_param + (1 - decay) * current_param
    return ema_update


def get_swa_avg_fn():
    """`fn(avg, param, n)` returning avg + (param - avg) / (n + 1)."""

    def swa_update(averaged_param, current_param, num_averaged):
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)
    return swa_update


class AveragedModel(Module):
    """A deep copy of `model` (under `.module`) whose parameters average the model's.

    Args:
        model: the model to average (copied; the copy is moved to `device` if given).
        avg_fn: `fn(averaged, current, n) -> Tensor` applied per parameter.
        multi_avg_fn: `fn(averaged_list, current_list, n)` updating in place (EMA:
            `get_ema_multi_avg_fn(decay)`). Default: the equal-weight running mean.
        use_buffers: average buffers too (and include them when averaging); otherwise
            buffers are copied from `model` on each update.

    State dict: `module.<name>` for the copy's entries, and `n_averaged` (int64 scalar),
    the number of updates so far. `forward` runs the averaged copy.
    """

    def __init__(self, model: Module, device=None, avg_fn=None, multi_avg_fn=None,
                 use_buffers=False) -> None:
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", _tensor(0, dtype=int64, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def _tensors(self, model: Module) -> list:
        if self.use_buffers:
            return list(model.parameters()) + list(model.buffers())
        return list(model.parameters())

    def update_parameters(self, model: Module) -> None:
        """Fold `model`'s current parameters into the average (the first call copies)."""
        mine = self._tensors(self.module)
        theirs = []
        for a, p in zip(mine, self._tensors(model)):
            arr = p.data
            if backend.namespace(arr) is not backend.namespace(a.data):
                arr = backend.to_device(arr, backend.device_of(a.data))
            theirs.append(arr)
        n = int(self.n_averaged.data)
        if n == 0:
            for a, arr in zip(mine, theirs):
                a.data[...] = arr
        elif self.multi_avg_fn is not None:
            # As PyTorch: one call per (device, dtype) group, so each list is homogeneous.
            groups = {}
            for a, arr in zip(mine, theirs):
                key = (backend.device_of(a.data), a.data.dtype)
                pair = groups.setdefault(key, ([], []))
                pair[0].append(a.detach())
                pair[1].append(_detached(arr))
            for avg_list, cur_list in groups.values():
                self.multi_avg_fn(avg_list, cur_list, self.n_averaged.detach())
        elif self.avg_fn is not None:
            with no_grad():
                for a, arr in zip(mine, theirs):
                    a.data[...] = _data(self.avg_fn(a.detach(), _detached(arr),
                                                    self.n_averaged.detach()))
        else:
            # PyTorch's CPU path: avg + (param - avg) / (n + 1), exactly.
            for a, arr in zip(mine, theirs):
                if a.data.dtype.kind in "fc":
                    a.data += (arr - a.data) / (n + 1)
                else:
                    _int_mean_(a.data, arr, n)
        for a in mine:
            a._vc[0] += 1
        if not self.use_buffers:
            for b_avg, b_model in zip(self.module.buffers(), model.buffers()):
                b_avg.data[...] = b_model.data
                b_avg._vc[0] += 1
        self.n_averaged.data += 1
        self.n_averaged._vc[0] += 1


def _detached(arr) -> Tensor:
    from ..tensor import _make  # noqa: PLC0415 - the internal wrapper, no copy
    return _make(arr, None, 0, None)


def _data(x):
    return x.data if isinstance(x, Tensor) else x


def update_bn(loader, model: Module, device=None) -> None:
    """Recompute batch-norm running statistics of `model` with one pass over `loader`.

    Statistics are reset and then accumulated as a plain average over the batches
    (momentum None); each layer's momentum and the model's training mode are restored.
    Items of `loader` that are lists or tuples contribute their first element as input.
    """
    momenta = {}
    for m in model.modules():
        if isinstance(m, _BatchNorm):  # as PyTorch: not InstanceNorm
            m.reset_running_stats()
            momenta[m] = m.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for m in momenta:
        m.momentum = None
    with no_grad():
        for x in loader:
            if isinstance(x, (list, tuple)):
                x = x[0]
            if device is not None:
                x = x.to(device)
            model(x)
    for m, momentum in momenta.items():
        m.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's lr to `swa_lr` over `anneal_epochs` epochs ('cos' or 'linear'),
    then hold it. `swa_lr` is a number or one per param group."""

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos",
                 last_epoch=-1) -> None:
        for lr, group in zip(_per_group("swa_lr", optimizer, swa_lr), optimizer.param_groups):
            group["swa_lr"] = lr
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError("anneal_strategy must be one of 'cos' or 'linear', instead got "
                             f"{anneal_strategy}")
        self._anneal_strategy = anneal_strategy
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    def anneal_func(self, t: float) -> float:
        if self._anneal_strategy == "cos":
            return (1 - math.cos(math.pi * t)) / 2
        return t

    @staticmethod
    def _get_initial_lr(lr, swa_lr, alpha):
        # Invert lr = swa_lr * alpha + lr0 * (1 - alpha) to recover lr0 (the lr before
        # annealing), so other code may change lr between steps, as in PyTorch.
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self) -> list:
        if not self._get_lr_called_within_step:
            warnings.warn("To get the last learning rate computed by the scheduler, please use "
                          "`get_last_lr()`.", UserWarning, stacklevel=2)
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_alpha = self.anneal_func(max(0, min(1, (step - 1) / max(1, self.anneal_epochs))))
        prev_lrs = [self._get_initial_lr(g["lr"], g["swa_lr"], prev_alpha)
                    for g in self.optimizer.param_groups]
        alpha = self.anneal_func(max(0, min(1, step / max(1, self.anneal_epochs))))
        return [g["swa_lr"] * alpha + lr * (1 - alpha)
                for g, lr in zip(self.optimizer.param_groups, prev_lrs)]
