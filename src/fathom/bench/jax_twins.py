"""JAX versions of the bench workloads, jit-compiled, for `fathom bench --against jax`.

Every model is a pure function `apply(p, x, key=None, train=False) -> (logits, stats)` of
a dict `p` keyed like the Fathom model's state_dict, in PyTorch's layouts (Linear weight
(out, in), conv OIHW, LSTM gates i, f, g, o with two biases), so JAX starts from the
same weights as Fathom and PyTorch. `stats` holds the buffers a training-mode forward
updates (batch norm's running statistics; empty for the other models). Training runs one
jitted step per batch (the batch gather, forward, backward and torch.optim.Adam's update
with its defaults, one `_adam` for every model); the loss is cross-entropy. Where it
differs from Fathom's run: the CNN's dropout draws from JAX's own generator, and images
run channels-last inside (see _DIMS). JAX dispatches asynchronously: every timed
function blocks until its result is ready.
"""
from __future__ import annotations

import os

import jax
import jax.numpy as jnp
from jax import lax

# images run channels-last inside (inputs arrive NCHW, are transposed once at the model's
# entry): XLA's CPU convolutions are faster that way (a batch-256 CNN forward: 2-5x), and
# it is Flax's layout; the kernels stay in PyTorch's OIHW, which XLA takes as it is
_DIMS = ("NHWC", "OIHW", "NHWC")
_HEADS = 4  # workloads.transformer_model's nhead: the state_dict does not record it


def params_from(model) -> dict:
    """The model's state_dict (parameters and buffers) as JAX arrays, PyTorch layouts."""
    return {k: jnp.asarray(v.numpy()) for k, v in model.state_dict().items()}


# --- layers: PyTorch's arithmetic on raw arrays ---------------------------------------------

def _linear(p, name, x):
    # contracts PyTorch's (out, in) weight as it is: `x @ w.T` made XLA copy the transpose
    # on every call (a batch-1 MLP forward took 3x as long)
    return jnp.einsum("...i,oi->...o", x, p[name + ".weight"]) + p[name + ".bias"]


def _conv(p, name, x, stride=1, padding=0):
    y = lax.conv_general_dilated(x, p[name + ".weight"], (stride, stride),
                                 [(padding, padding)] * 2, dimension_numbers=_DIMS)
    bias = p.get(name + ".bias")
    return y if bias is None else y + bias


def _channels_last(x):
    return x.transpose(0, 2, 3, 1)  # (N, C, H, W) -> (N, H, W, C)


def _flatten(x):
    """(N, H, W, C) -> (N, C*H*W) in PyTorch's (C, H, W) order, as its Linear weights expect."""
    return x.transpose(0, 3, 1, 2).reshape(x.shape[0], -1)


def _max_pool2(x):
    """MaxPool2d(2) on (N, H, W, C) (an odd last row or column dropped, as PyTorch's floor
    mode does) as a reshape and a max: XLA's CPU gradient of lax.reduce_window's max
    (select_and_scatter) took 11x the forward, and half of the CNN's training step. Ties
    share the gradient where PyTorch's gives it to one; after a ReLU they are zeros, whose
    gradient is zero either way."""
    n, h, w, c = x.shape
    x = x[:, :h - h % 2, :w - w % 2]
    return x.reshape(n, h // 2, 2, w // 2, 2, c).max((2, 4))


def _batch_norm(p, name, x, train, stats, momentum=0.1, eps=1e-5):
    """BatchNorm2d on (N, H, W, C). Training: the batch's mean and biased variance
    normalize, and the running statistics (written to `stats`) move by `momentum` towards
    the mean and the unbiased variance, as PyTorch's do. Eval: the running ones."""
    if train:
        mean, var = x.mean((0, 1, 2)), x.var((0, 1, 2))
        n = x.size // x.shape[-1]
        for stat, new in (("running_mean", mean), ("running_var", var * n / (n - 1))):
            key = f"{name}.{stat}"
            stats[key] = (1 - momentum) * p[key] + momentum * new
        stats[name + ".num_batches_tracked"] = p[name + ".num_batches_tracked"] + 1
    else:
        mean, var = p[name + ".running_mean"], p[name + ".running_var"]
    scale = p[name + ".weight"] * lax.rsqrt(var + eps)
    shift = p[name + ".bias"] - mean * scale
    return x * scale + shift


def _layer_norm(p, name, x, eps=1e-5):
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mean) * lax.rsqrt(var + eps) * p[name + ".weight"] + p[name + ".bias"]


def _self_attention(p, name, x, heads):
    """nn.MultiheadAttention(x, x, x), batch_first: one packed in-projection (q, k, v rows
    of in_proj_weight), scaled dot-product attention per head, out_proj. (N, S, D)."""
    n, s, d = x.shape
    qkv = jnp.einsum("nsd,ed->nse", x, p[name + ".in_proj_weight"]) + p[name + ".in_proj_bias"]
    q, k, v = (t.reshape(n, s, heads, d // heads) for t in jnp.split(qkv, 3, axis=-1))
    return _linear(p, name + ".out_proj", jax.nn.dot_product_attention(q, k, v).reshape(n, s, d))


# --- models: fathom.vision.models and workloads.transformer_model -------------------------

def mlp(p, x, key=None, train=False):
    """models.mlp(): Sequential keys 1, 3, 5 are the Linear layers. (N, 1, 28, 28)."""
    x = x.reshape(x.shape[0], -1)
    x = jax.nn.relu(_linear(p, "1", x))
    x = jax.nn.relu(_linear(p, "3", x))
    return _linear(p, "5", x), {}


def cnn(p, x, key=None, train=False):
    """models.cnn(): conv 0, conv 3, linear 7, dropout 0.5 (training), linear 10.
    (N, 1, 28, 28)."""
    x = _max_pool2(jax.nn.relu(_conv(p, "0", _channels_last(x))))
    x = _max_pool2(jax.nn.relu(_conv(p, "3", x)))
    x = jax.nn.relu(_linear(p, "7", _flatten(x)))
    if train:
        keep = jax.random.bernoulli(key, 0.5, x.shape)
        x = jnp.where(keep, x * 2.0, 0.0)
    return _linear(p, "10", x), {}


def lenet5(p, x, key=None, train=False):
    """models.lenet5(): 28x28 inputs are zero-padded to 32x32 first. (N, 1, 28|32, 28|32)."""
    if x.shape[2] == 28:
        x = jnp.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    x = _max_pool2(jax.nn.relu(_conv(p, "conv1", _channels_last(x))))
    x = _max_pool2(jax.nn.relu(_conv(p, "conv2", x)))
    x = jax.nn.relu(_linear(p, "fc1", _flatten(x)))
    return _linear(p, "fc3", jax.nn.relu(_linear(p, "fc2", x))), {}


def lstm(p, x, key=None, train=False):
    """models.lstm(): image rows are time steps of one LSTM layer (lax.scan over them), a
    Linear on the last step's hidden state. (N, 1, H, W) or (N, H, W)."""
    x = x.reshape(x.shape[0], x.shape[-2], x.shape[-1]).swapaxes(0, 1)  # (T, N, W)
    # every step's input projection in one GEMM, both biases folded in, outside the loop
    xw = jnp.einsum("tni,gi->tng", x, p["lstm.weight_ih_l0"]) + p["lstm.bias_ih_l0"] + \
        p["lstm.bias_hh_l0"]
    w_hh = p["lstm.weight_hh_l0"].T

    def cell(carry, xw_t):
        h, c = carry
        i, f, g, o = jnp.split(xw_t + h @ w_hh, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        return (jax.nn.sigmoid(o) * jnp.tanh(c), c), None

    h0 = jnp.zeros((x.shape[1], w_hh.shape[0]), x.dtype)
    (h, _), _ = lax.scan(cell, (h0, h0), xw)
    return _linear(p, "fc", h), {}


def transformer(p, x, key=None, train=False):
    """workloads.transformer_model(): post-norm encoder layers (ReLU, dropout 0, LayerNorm
    eps 1e-5), the mean over the sequence, a Linear head. (N, S, 128) -> (N, 10)."""
    depth = sum(k.endswith(".norm1.weight") for k in p)
    for i in range(depth):
        name = f"encoder.layers.{i}"
        x = _layer_norm(p, name + ".norm1", x + _self_attention(p, name + ".self_attn", x,
                                                                 _HEADS))
        ff = _linear(p, name + ".linear2", jax.nn.relu(_linear(p, name + ".linear1", x)))
        x = _layer_norm(p, name + ".norm2", x + ff)
    return _linear(p, "head", x.mean(1)), {}


def _block(p, name, x, stride, train, stats):
    """models.BasicBlock: two 3x3 convs with batch norm, and the shortcut (1x1 conv + batch
    norm where the block has a `downsample`)."""
    out = jax.nn.relu(_batch_norm(p, name + ".bn1", _conv(p, name + ".conv1", x, stride, 1),
                                  train, stats))
    out = _batch_norm(p, name + ".bn2", _conv(p, name + ".conv2", out, 1, 1), train, stats)
    if name + ".downsample.0.weight" in p:
        x = _batch_norm(p, name + ".downsample.1", _conv(p, name + ".downsample.0", x, stride),
                        train, stats)
    return jax.nn.relu(out + x)


def resnet18(p, x, key=None, train=False):
    """models.resnet18(): torchvision's layout; the stem follows conv1's kernel (3x3: CIFAR's,
    no pooling; 7x7: ImageNet's, stride 2 and a 3x3 max pool). Training-mode batch norm
    returns the updated running statistics in `stats`. (N, 3, H, W)."""
    stats = {}
    imagenet = p["conv1.weight"].shape[-1] == 7
    x = _channels_last(x)
    x = _conv(p, "conv1", x, 2, 3) if imagenet else _conv(p, "conv1", x, 1, 1)
    x = jax.nn.relu(_batch_norm(p, "bn1", x, train, stats))
    if imagenet:  # MaxPool2d(3, 2, 1)
        pad = ((0, 0), (1, 1), (1, 1), (0, 0))
        x = lax.reduce_window(x, -jnp.inf, lax.max, (1, 3, 3, 1), (1, 2, 2, 1), pad)
    for layer, stride in ((1, 1), (2, 2), (3, 2), (4, 2)):
        x = _block(p, f"layer{layer}.0", x, stride, train, stats)
        x = _block(p, f"layer{layer}.1", x, 1, train, stats)
    return _linear(p, "fc", x.mean((1, 2))), stats


MODELS = {"mlp": mlp, "cnn": cnn, "lenet5": lenet5, "lstm": lstm, "transformer": transformer,
          "resnet18": resnet18}
SUPPORTS = set(MODELS) | {"add"}  # what fathom.bench.workloads may ask of this module
COVERAGE = ("MLP, CNN, LeNet-5, LSTM epochs; Transformer, ResNet-18 steps; MLP, CNN "
            "inference; x + y (jit-compiled)")


def _model(name):
    if name not in MODELS:
        raise ValueError(f"jax_twins: no JAX version of model {name!r}; have "
                         f"{', '.join(MODELS)}")
    return MODELS[name]


def set_threads(n: int) -> None:
    """Size XLA's CPU thread pools to n threads. XLA reads no OMP/BLAS variable: its CPU
    client sizes its pools when it starts (at the first JAX array, not at import) from
    PJRT_NPROC, else from the CPUs the process may run on (2 here, the default --threads).
    Called after that start, this changes nothing."""
    os.environ["PJRT_NPROC"] = str(n)


# --- training: one jitted Adam step per batch ----------------------------------------------

def _adam(w, m, v, t, g, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    """torch.optim.Adam's update with its defaults (no weight decay, no amsgrad) on dicts
    of arrays; t is the step number, counted from 1."""
    m = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, m, g)
    v = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, v, g)
    c1, c2 = 1 - b1 ** t, 1 - b2 ** t
    w = jax.tree.map(lambda w, m, v: w - lr * (m / c1) / (jnp.sqrt(v / c2) + eps), w, m, v)
    return w, m, v


def _cross_entropy(logits, y):
    logp = jax.nn.log_softmax(logits)
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))


def _trainer(name, model, x, y):
    """A function that runs jitted Adam steps on `model`'s JAX twin, one per entry of
    `batches` (index arrays into x, or None for the whole of x), carrying the weights,
    Adam's state, the buffers and the dropout key from call to call; it returns the last
    step's loss (computed before that step's update, as PyTorch's loop reports it)."""
    apply, p = _model(name), params_from(model)
    trainable = {k for k, _ in model.named_parameters()}
    w = {k: a for k, a in p.items() if k in trainable}
    buffers = {k: a for k, a in p.items() if k not in trainable}
    xs, ys = jnp.asarray(x), jnp.asarray(y)

    def loss_fn(w, buffers, xb, yb, key):
        logits, stats = apply({**w, **buffers}, xb, key, True)
        return _cross_entropy(logits, yb), stats

    @jax.jit
    def step(w, buffers, m, v, t, key, xs, ys, idx):
        xb, yb = (xs, ys) if idx is None else (xs[idx], ys[idx])
        key, sub = jax.random.split(key)
        (loss, stats), g = jax.value_and_grad(loss_fn, has_aux=True)(w, buffers, xb, yb, sub)
        w, m, v = _adam(w, m, v, t + 1, g)
        return w, {**buffers, **stats}, m, v, t + 1, key, loss

    zeros = jax.tree.map(jnp.zeros_like, w)
    state = [w, buffers, zeros, zeros, jnp.zeros((), jnp.float32), jax.random.PRNGKey(0)]

    def run(batches):
        for idx in batches:
            *new, loss = step(*state, xs, ys, idx)
            state[:] = new
        return float(loss)
    return run


def epoch_fn(name, model, x, y, batch, order):
    """One epoch of Adam steps over x[order] in batches of `batch`, as twins.epoch_fn does in
    Fathom and PyTorch; each step (its batch gather included) is one jitted call."""
    index = [jnp.asarray(order[s:s + batch]) for s in range(0, len(order), batch)]
    train = _trainer(name, model, x, y)
    return lambda: train(index)


def steps_fn(name, model, x, y, steps):
    """`steps` jitted Adam steps on the one batch (x, y), as workloads._steps does."""
    train = _trainer(name, model, x, y)
    return lambda: train([None] * steps)


def inference_fn(name, model, x):
    """A jitted eval-mode forward on x; the returned function blocks until it is done."""
    apply, params, xj = _model(name), params_from(model), jnp.asarray(x)
    forward = jax.jit(lambda p, x: apply(p, x)[0])
    return lambda: forward(params, xj).block_until_ready()


def add_fn(x, y):
    """x + y, eagerly (one dispatch, as a user writes it)."""
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    return lambda: (xj + yj).block_until_ready()
