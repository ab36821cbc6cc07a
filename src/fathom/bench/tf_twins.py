"""TensorFlow/Keras versions of the bench workloads, for `fathom bench --against tf`.

Each model of `fathom.vision.models` (and workloads.transformer_model) is rebuilt as a
Keras 3 functional model on the TensorFlow backend, with the Fathom model's weights
copied in, and trained the way `model.fit` compiles a step (a `tf.function` around
GradientTape, Keras's SparseCategoricalCrossentropy and Keras's Adam), called once per
batch as fit does by default, without fit's callbacks and progress bar.

Layouts: TensorFlow's CPU convolutions want NHWC, so image data is transposed once, up
front (outside the timed function), conv kernels go OIHW -> HWIO, and the Dense after a
Flatten gets its kernel rows permuted from Fathom's (C, H, W) order to Keras's (H, W, C)
order, so outputs match Fathom's from the same weights.

Keras: this module sets KERAS_BACKEND=tensorflow before Keras loads (TensorFlow itself
imports Keras). `fathom bench` never imports Keras otherwise (fathom.keras is Fathom's own
dialect, not this package), so that is safe there; where Keras was already imported with
another backend, importing this module raises ImportError rather than run on it.

Where the arithmetic differs from Fathom's and PyTorch's (neither changes the forward
outputs the tests compare):
- Keras's Adam folds the bias corrections into the step size, lr * sqrt(1 - b2^t) /
  (1 - b1^t), and adds epsilon to the uncorrected sqrt(v): PyTorch's rule with epsilon
  divided by sqrt(1 - b2^t) (3.2e-7 at step 1, falling to 1e-8). Same lr 1e-3, betas
  0.9/0.999, epsilon 1e-8 (Keras's default is 1e-7).
- Keras's BatchNormalization updates the moving variance with the biased batch variance
  (PyTorch's running_var uses the unbiased one); normalization in training uses the batch's
  biased variance in both. Momentum 0.9 = 1 - PyTorch's 0.1, epsilon 1e-5.
- Dropout draws its own random mask (Keras's seed generator), so the CNN's dropout masks
  differ from Fathom's.
"""
from __future__ import annotations

import os
import sys

if "keras" in sys.modules and sys.modules["keras"].config.backend() != "tensorflow":
    raise ImportError(
        "fathom.bench.tf_twins: Keras is already imported with the "
        f"{sys.modules['keras'].config.backend()!r} backend, but the TensorFlow twins need "
        "KERAS_BACKEND=tensorflow before Keras loads; run them in a fresh process")
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's start-up banner is not a result

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402

SUPPORTS = {"mlp", "cnn", "lenet5", "lstm", "transformer", "resnet18", "add"}
COVERAGE = ("MLP, CNN, LeNet-5 and LSTM epochs, MLP and CNN inference, Transformer and "
            "ResNet-18 steps (Keras 3 layers, tf.function train steps), x + y")

# jit_compile (XLA) per workload, chosen by timing both, interleaved, on a 2-core CPU with
# 2 threads (TF 2.21): XLA wins where there is no convolution (MLP epoch 1.2-1.5x, LSTM
# epoch 1.3x, Transformer steps 1.2x, MLP inference 1.1x) and loses on the conv nets (CNN
# epoch 2.9x slower, LeNet-5 2.4x, ResNet-18 1.1x, CNN inference 1.9x at batch 256 though
# 1.3x faster at batch 1): its CPU convolutions trail TensorFlow's oneDNN kernels. (model.fit's
# jit_compile="auto" turns XLA off on CPU-only machines.)
JIT = {"mlp": True, "cnn": False, "lenet5": False, "lstm": True, "transformer": True,
       "resnet18": False}
JIT_INFERENCE = {"mlp": True, "cnn": False}


def set_threads(n: int) -> None:
    """Pin TensorFlow's intra-op pool to n threads and its inter-op pool to 1; TensorFlow
    allows this only before it runs anything."""
    tf.config.threading.set_intra_op_parallelism_threads(n)
    tf.config.threading.set_inter_op_parallelism_threads(1)


# --- the models, from Fathom weights -----------------------------------------------------------

class _Weights:
    """Makes Keras layers that take their weights from a Fathom state_dict (PyTorch layouts)
    once the model is built; `model(inputs, outputs)` builds it and copies them in."""

    def __init__(self, fathom_model):
        self.sd = {k: v.numpy() for k, v in fathom_model.state_dict().items()}
        self.pending = []

    def _later(self, layer, weights):
        self.pending.append((layer, weights))
        return layer

    def dense(self, key, activation=None, chw=None):
        """Linear `key` as a Dense; chw=(C, H, W): its input comes from flattening an NHWC
        map, so kernel rows go from Fathom's (C, H, W) order to (H, W, C)."""
        w, b = self.sd[key + ".weight"], self.sd[key + ".bias"]
        kernel = w.T if chw is None else \
            w.reshape(w.shape[0], *chw).transpose(2, 3, 1, 0).reshape(-1, w.shape[0])
        return self._later(layers.Dense(w.shape[0], activation=activation), [kernel, b])

    def conv(self, key, stride=1, padding="valid", activation=None):
        """Conv2d `key` as a Conv2D (OIHW -> HWIO); with or without bias as Fathom's."""
        w, b = self.sd[key + ".weight"], self.sd.get(key + ".bias")
        layer = layers.Conv2D(w.shape[0], w.shape[2:], strides=stride, padding=padding,
                              activation=activation, use_bias=b is not None)
        return self._later(layer, [w.transpose(2, 3, 1, 0)] + ([] if b is None else [b]))

    def batch_norm(self, key):
        sd = self.sd
        return self._later(layers.BatchNormalization(momentum=0.9, epsilon=1e-5),
                           [sd[key + ".weight"], sd[key + ".bias"], sd[key + ".running_mean"],
                            sd[key + ".running_var"]])

    def layer_norm(self, key):
        return self._later(layers.LayerNormalization(epsilon=1e-5),
                           [self.sd[key + ".weight"], self.sd[key + ".bias"]])

    def lstm(self, key):
        """nn.LSTM `key` (one layer) as a Keras LSTM: the gate order is i, f, g, o in both;
        Keras has one bias, PyTorch's two add up to it."""
        sd = self.sd
        w_ih, w_hh = sd[key + ".weight_ih_l0"], sd[key + ".weight_hh_l0"]
        bias = sd[key + ".bias_ih_l0"] + sd[key + ".bias_hh_l0"]
        return self._later(layers.LSTM(w_hh.shape[1]), [w_ih.T, w_hh.T, bias])

    def attention(self, key, heads):
        """nn.MultiheadAttention `key` as Keras's MultiHeadAttention: in_proj_weight's three
        (d, d) blocks are q, k, v; head h owns output features h*dh:(h+1)*dh, which is
        Keras's (d, heads, dh) kernel layout."""
        w, b = self.sd[key + ".in_proj_weight"], self.sd[key + ".in_proj_bias"]
        wo, bo = self.sd[key + ".out_proj.weight"], self.sd[key + ".out_proj.bias"]
        d = wo.shape[0]
        dh = d // heads
        weights = []
        for i in range(3):  # query, key, value
            weights += [w[i * d:(i + 1) * d].T.reshape(d, heads, dh),
                        b[i * d:(i + 1) * d].reshape(heads, dh)]
        weights += [wo.T.reshape(heads, dh, d), bo]
        return self._later(layers.MultiHeadAttention(heads, dh), weights)

    def model(self, inputs, outputs):
        model = keras.Model(inputs, outputs)
        for layer, weights in self.pending:
            layer.set_weights(weights)
        return model


def _mlp(wt):
    x = inputs = keras.Input((28, 28, 1))
    x = layers.Flatten()(x)  # one channel: NHWC flattens in Fathom's order
    x = wt.dense("1", "relu")(x)
    x = wt.dense("3", "relu")(x)
    return wt.model(inputs, wt.dense("5")(x))


def _cnn(wt):
    x = inputs = keras.Input((28, 28, 1))
    x = layers.MaxPooling2D(2)(wt.conv("0", activation="relu")(x))
    x = layers.MaxPooling2D(2)(wt.conv("3", activation="relu")(x))
    x = wt.dense("7", "relu", chw=(64, 5, 5))(layers.Flatten()(x))
    x = layers.Dropout(0.5)(x)
    return wt.model(inputs, wt.dense("10")(x))


def _lenet5(wt):
    x = inputs = keras.Input((28, 28, 1))
    x = layers.ZeroPadding2D(2)(x)  # 28 -> 32, as Fathom's LeNet5 does
    x = layers.MaxPooling2D(2)(wt.conv("conv1", activation="relu")(x))
    x = layers.MaxPooling2D(2)(wt.conv("conv2", activation="relu")(x))
    x = wt.dense("fc1", "relu", chw=(16, 5, 5))(layers.Flatten()(x))
    x = wt.dense("fc2", "relu")(x)
    return wt.model(inputs, wt.dense("fc3")(x))


def _lstm(wt):
    inputs = keras.Input((28, 28))  # 28 rows as time steps; the last step's output
    return wt.model(inputs, wt.dense("fc")(wt.lstm("lstm")(inputs)))


def _transformer(wt):
    """workloads.transformer_model: 4 post-norm encoder layers (ReLU, dropout 0), mean over
    the sequence, a Linear head."""
    x = inputs = keras.Input((64, 128))
    for i in range(4):
        key = f"encoder.layers.{i}."
        x = wt.layer_norm(key + "norm1")(x + wt.attention(key + "self_attn", 4)(x, x))
        ff = wt.dense(key + "linear2")(wt.dense(key + "linear1", "relu")(x))
        x = wt.layer_norm(key + "norm2")(x + ff)
    return wt.model(inputs, wt.dense("head")(layers.GlobalAveragePooling1D()(x)))


def _block(wt, x, key, stride, downsample):
    """BasicBlock. PyTorch pads a strided 3x3 conv by 1 on every side; Keras's 'same' would
    pad only after, so strided convs get an explicit ZeroPadding2D(1) and 'valid'."""
    if stride == 1:
        out = wt.conv(key + "conv1", padding="same")(x)
    else:
        out = wt.conv(key + "conv1", stride)(layers.ZeroPadding2D(1)(x))
    out = layers.ReLU()(wt.batch_norm(key + "bn1")(out))
    out = wt.batch_norm(key + "bn2")(wt.conv(key + "conv2", padding="same")(out))
    if downsample:
        x = wt.batch_norm(key + "downsample.1")(wt.conv(key + "downsample.0", stride)(x))
    return layers.ReLU()(out + x)


def _resnet18(wt):
    """fathom.vision.models.resnet18() with the CIFAR stem (3x3 conv, no max pool)."""
    x = inputs = keras.Input((32, 32, 3))
    x = layers.ReLU()(wt.batch_norm("bn1")(wt.conv("conv1", padding="same")(x)))
    for i, stride in enumerate((1, 2, 2, 2), 1):
        x = _block(wt, x, f"layer{i}.0.", stride, downsample=i > 1)
        x = _block(wt, x, f"layer{i}.1.", 1, downsample=False)
    return wt.model(inputs, wt.dense("fc")(layers.GlobalAveragePooling2D()(x)))


_BUILDERS = {"mlp": _mlp, "cnn": _cnn, "lenet5": _lenet5, "lstm": _lstm,
             "transformer": _transformer, "resnet18": _resnet18}


def keras_model(name: str, fathom_model) -> keras.Model:
    """The Keras twin of `fathom_model` (fathom.vision.models.get(name), or
    workloads.transformer_model(fathom) for "transformer"), with its weights copied in.
    Its inputs are those of `inputs(name, x)`."""
    if name not in _BUILDERS:
        raise ValueError(f"tf_twins: no Keras version of {name!r}; have {', '.join(_BUILDERS)}")
    return _BUILDERS[name](_Weights(fathom_model))


def inputs(name: str, x: np.ndarray) -> np.ndarray:
    """Fathom's input x in the twin's layout: images (N, C, H, W) -> NHWC; the LSTM's
    (N, 1, 28, 28) -> (N, 28, 28); the transformer's (N, 64, 128) unchanged."""
    if name == "lstm":
        return np.ascontiguousarray(x.reshape(x.shape[0], x.shape[-2], x.shape[-1]))
    if x.ndim == 4:
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    return x


# --- training and inference -------------------------------------------------------------------

def _train_step(model, jit: bool, gather=None):
    """What model.fit compiles for one batch: forward in training mode, Keras's cross-entropy
    on logits, GradientTape, Keras's Adam. gather=(x, y): the step takes batch indices and
    gathers inside the compiled function; otherwise it takes the batch itself."""
    opt = keras.optimizers.Adam(learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    opt.build(model.trainable_variables)  # variables made here, not while tracing
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    weights = model.trainable_variables

    def step(xb, yb):
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, model(xb, training=True))
        opt.apply_gradients(zip(tape.gradient(loss, weights), weights))
        return loss

    if gather is None:
        return tf.function(step, jit_compile=jit, reduce_retracing=True)
    xs, ys = gather
    # one signature for every batch size, so the short last batch reuses the trace
    return tf.function(lambda idx: step(tf.gather(xs, idx), tf.gather(ys, idx)),
                       jit_compile=jit, input_signature=[tf.TensorSpec([None], tf.int64)])


def epoch_fn(name, model, x, y, batch, order):
    """One epoch of Adam steps over x[order] in batches of `batch`, one compiled step per
    batch; returns run() -> the last batch's loss (a float, so it waits for the work)."""
    net = keras_model(name, model)
    xs, ys = tf.constant(inputs(name, x)), tf.constant(y)
    step = _train_step(net, JIT[name], gather=(xs, ys))
    index = [tf.constant(order[s:s + batch], tf.int64) for s in range(0, len(order), batch)]

    def run():
        for idx in index:
            loss = step(idx)
        return float(loss)
    return run


def steps_fn(name, model, x, y, steps):
    """`steps` Adam steps on the one batch (x, y), for "transformer" and "resnet18" (batch
    norm in training mode); returns run() -> the last loss."""
    net = keras_model(name, model)
    xs, ys = tf.constant(inputs(name, x)), tf.constant(y)
    step = _train_step(net, JIT[name])

    def run():
        for _ in range(steps):
            loss = step(xs, ys)
        return float(loss)
    return run


def inference_fn(name, model, x):
    """The compiled eval-mode forward of "mlp" or "cnn" on x (N, 1, 28, 28); run() returns
    the logits as NumPy, so it waits for them."""
    net = keras_model(name, model)
    xt = tf.constant(inputs(name, x))
    forward = tf.function(lambda t: net(t, training=False), jit_compile=JIT_INFERENCE[name])
    return lambda: forward(xt).numpy()


def add_fn(x, y):
    """x + y, eagerly (one dispatch, as a user writes it)."""
    xt, yt = tf.constant(x), tf.constant(y)
    return lambda: (xt + yt).numpy()
