"""JAX versions of some bench workloads, jit-compiled, for `fathom bench --against jax`.

The MLP and the CNN of `fathom.vision.models` written as pure functions of a parameter
dict keyed like the Fathom model's state_dict (so both start from the same weights), one
jitted Adam step (the same update rule as torch.optim.Adam's defaults), and eval-mode
forwards. JAX dispatches asynchronously: every timed function blocks until its result is
ready. Workloads with no JAX version here (LeNet-5, LSTM, Transformer, ResNet-18) are
reported as such.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

_DIMS = ("NCHW", "OIHW", "NCHW")


def params_from(model) -> dict:
    """The model's state_dict as JAX arrays (PyTorch layouts: Linear weight (out, in))."""
    return {k: jnp.asarray(v.numpy()) for k, v in model.state_dict().items()}


def _linear(p, name, x):
    return x @ p[name + ".weight"].T + p[name + ".bias"]


def _conv(p, name, x):
    y = lax.conv_general_dilated(x, p[name + ".weight"], (1, 1), "VALID", dimension_numbers=_DIMS)
    return y + p[name + ".bias"][None, :, None, None]


def _pool2(x):
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")


def mlp(p, x, key=None, train=False):
    """fathom.vision.models.mlp(): Sequential keys 1, 3, 5 are the Linear layers."""
    x = x.reshape(x.shape[0], -1)
    x = jax.nn.relu(_linear(p, "1", x))
    x = jax.nn.relu(_linear(p, "3", x))
    return _linear(p, "5", x)


def cnn(p, x, key=None, train=False):
    """fathom.vision.models.cnn(): conv 0, conv 3, linear 7, dropout 0.5, linear 10."""
    x = _pool2(jax.nn.relu(_conv(p, "0", x)))
    x = _pool2(jax.nn.relu(_conv(p, "3", x)))
    x = jax.nn.relu(_linear(p, "7", x.reshape(x.shape[0], -1)))
    if train:
        keep = jax.random.bernoulli(key, 0.5, x.shape)
        x = jnp.where(keep, x * 2.0, 0.0)
    return _linear(p, "10", x)


MODELS = {"mlp": mlp, "cnn": cnn}
SUPPORTS = {"mlp", "cnn", "add"}  # what fathom.bench.workloads may ask of this module
COVERAGE = "MLP and CNN epochs and inference, x + y (jit-compiled)"


def set_threads(n: int) -> None:
    """XLA's CPU thread pool is sized when JAX loads; on these two-core machines it matches
    the default of 2 threads already."""


def _loss(apply, p, x, y, key):
    logp = jax.nn.log_softmax(apply(p, x, key, True))
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))


def epoch_fn(name, model, x, y, batch, order, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    """One epoch of jitted Adam steps over x[order], as twins.epoch_fn does in Fathom and
    PyTorch; the batch gather happens inside the jitted step."""
    apply = MODELS[name]
    params = params_from(model)
    xs, ys = jnp.asarray(x), jnp.asarray(y)
    index = [jnp.asarray(order[s:s + batch]) for s in range(0, len(order), batch)]
    grad = jax.value_and_grad(lambda p, xb, yb, key: _loss(apply, p, xb, yb, key))

    @jax.jit
    def step(p, m, v, t, idx, key):
        loss, g = grad(p, xs[idx], ys[idx], key)
        t = t + 1
        m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, m, g)
        v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, v, g)
        c1, c2 = 1 - b1 ** t, 1 - b2 ** t
        p = jax.tree_util.tree_map(
            lambda p, m, v: p - lr * (m / c1) / (jnp.sqrt(v / c2) + eps), p, m, v)
        return p, m, v, t, loss

    state = {"p": params, "m": jax.tree_util.tree_map(jnp.zeros_like, params),
             "v": jax.tree_util.tree_map(jnp.zeros_like, params), "t": jnp.zeros(()),
             "key": jax.random.PRNGKey(0)}

    def run():
        p, m, v, t, key = (state[k] for k in ("p", "m", "v", "t", "key"))
        for idx in index:
            key, sub = jax.random.split(key)
            p, m, v, t, loss = step(p, m, v, t, idx, sub)
        state.update(p=p, m=m, v=v, t=t, key=key)
        return float(loss.block_until_ready())
    return run


def inference_fn(name, model, x):
    """A jitted eval-mode forward on x; the returned function blocks until it is done."""
    apply, params, xj = MODELS[name], params_from(model), jnp.asarray(x)
    forward = jax.jit(lambda p, x: apply(p, x))
    return lambda: forward(params, xj).block_until_ready()


def add_fn(x, y):
    """x + y, eagerly (one dispatch, as a user writes it)."""
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    return lambda: (xj + yj).block_until_ready()
