"""The Keras Layer on a fathom.nn.Module: names, lazy build, Keras-layout weights, and the
symbolic tensors (`keras.Input`) that functional models are wired from.

A Layer stores its parameters in PyTorch's layout under PyTorch's names (a Dense's
`weight` is (out, in), so `state_dict()` has the keys a torch layer has); `get_weights`
and `set_weights` convert to and from Keras's layouts (a Dense kernel is (in, out)).
Calling a layer the first time builds it from the input's shape; calling it on a
`KerasTensor` records a node of a functional graph instead of computing.
"""
from __future__ import annotations

import functools
import inspect
import re

import numpy as np

from ... import backend, dtypes as _dt
from ...autograd.grad_mode import no_grad
from ...creation import from_numpy, zeros
from ...errors import ShapeError
from ...nn import Module, ModuleDict, ModuleList, Parameter
from ...tensor import Tensor
from .. import initializers

__all__ = ["Layer", "KerasTensor", "Input", "InputLayer", "Weight"]

_UIDS: dict[str, int] = {}
# Keras arguments fathom.keras accepts only as None (their default)
_UNSUPPORTED = {f"{w}_{kind}" for w in ("kernel", "bias", "activity", "recurrent", "embeddings",
                                        "beta", "gamma", "depthwise", "pointwise")
                for kind in ("regularizer", "constraint")} | {"lora_rank", "weights"}
_DTYPES = {"float32": "float32", "float64": "float64", "int32": "int64", "int64": "int64",
           "uint8": "int64", "bool": "bool"}


def snake_case(name: str) -> str:
    """Keras's layer-name rule: 'Conv2DTranspose' -> 'conv2d_transpose', 'ReLU' -> 're_lu'."""
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(prefix: str) -> str:
    """'dense', then 'dense_1', 'dense_2', ... (one counter per prefix per process)."""
    n = _UIDS.get(prefix, 0)
    _UIDS[prefix] = n + 1
    return prefix if n == 0 else f"{prefix}_{n}"


def nest_map(fn, x):
    """Apply `fn` to the leaves of nested lists, tuples and dicts."""
    if isinstance(x, (list, tuple)):
        return type(x)(nest_map(fn, v) for v in x)
    if isinstance(x, dict):
        return {k: nest_map(fn, v) for k, v in x.items()}
    return fn(x)


def nest_leaves(x) -> list:
    out = []
    nest_map(out.append, x)
    return out


def as_tensor(x, dtype="float32"):
    """A NumPy array as a Tensor (floats float32, Keras's floatx; integers int64); anything
    else unchanged."""
    if not isinstance(x, np.ndarray):
        return x
    if x.dtype.kind == "f" or dtype.startswith("float"):
        x = x.astype(np.float64 if dtype == "float64" else np.float32)
    elif x.dtype.kind in "iub":
        x = x.astype(np.int64)
    return from_numpy(np.ascontiguousarray(x))


def batch_shape(x) -> tuple:
    """A tensor's shape with the batch dim as None (Keras's input_shape convention)."""
    return (None,) + tuple(x.shape[1:])


class Weight:
    """One Keras weight over the layer's PyTorch-layout parameters or buffers.

    `numpy()` gives the Keras layout; `assign(value)` takes it. `attrs` name the
    parameters/buffers it spans; `to_keras(*arrays)` and `from_keras(array)` convert.
    """

    def __init__(self, layer, name, shape, attrs, to_keras, from_keras, trainable):
        self.layer, self.name, self.shape, self.attrs = layer, name, tuple(shape), attrs
        self.to_keras, self.from_keras, self._trainable = to_keras, from_keras, trainable

    def _get(self, attr):
        """The parameter or buffer at dotted path `attr` ('cell.weight_ih_l0')."""
        obj = self.layer
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj

    @property
    def path(self) -> str:
        return f"{self.layer.name}/{self.name}"

    @property
    def trainable(self) -> bool:
        return self._trainable and self.layer.trainable

    def numpy(self) -> np.ndarray:
        arrays = [backend.to_device(self._get(a).data, "cpu") for a in self.attrs]
        return np.ascontiguousarray(self.to_keras(*arrays))

    def assign(self, value) -> None:
        value = np.asarray(value.detach().numpy() if isinstance(value, Tensor) else value)
        if value.shape != self.shape:
            raise ValueError(f"Layer '{self.layer.name}' weight '{self.name}' has shape "
                             f"{self.shape}; cannot assign a value of shape {value.shape}")
        for attr, arr in zip(self.attrs, self.from_keras(value)):
            t = self._get(attr)
            with no_grad():
                t.copy_(from_numpy(np.ascontiguousarray(arr, dtype=t.data.dtype)).to(t.device))

    def __repr__(self):
        return f"<Weight path={self.path}, shape={self.shape}>"


def permuted(perm):
    """(to_keras, from_keras) for one stored array that is Keras's transposed by `perm`."""
    if perm is None:
        return (lambda a: a), (lambda k: (k,))
    inverse = tuple(int(i) for i in np.argsort(perm))
    return (lambda a: a.transpose(inverse)), (lambda k: (k.transpose(perm),))


class Layer(Module):
    """A Keras layer: `__init__(trainable=True, name=None, dtype=None, input_shape=None)`,
    `build(input_shape)` creates weights, `call(inputs, ...)` computes.

    Subclasses define `build` (with `add_weight`) and `call`; both see Keras's shapes
    (batch dim None). `layer(x)` builds on the first call; `layer(keras_tensor)` adds a
    node to a functional graph. NumPy inputs become float32 tensors. `dtype` is accepted
    and ignored (weights are float32; use `.double()` as on any module).
    """

    def __init__(self, trainable=True, name=None, dtype=None, input_shape=None,
                 batch_input_shape=None, input_dim=None, **kwargs):
        for key in [k for k in kwargs if k in _UNSUPPORTED]:
            if kwargs.pop(key) is not None:
                raise NotImplementedError(f"{type(self).__name__}: {key} is not supported in "
                                          "fathom.keras (leave it None)")
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unrecognized keyword arguments "
                            f"{sorted(kwargs)}")
        super().__init__()
        # Keras runs inference unless told otherwise (fit and train_on_batch switch to
        # training and back), so a layer starts in eval mode, unlike a fathom.nn module
        self.training = False
        if name is not None and (not isinstance(name, str) or "." in name or not name):
            raise ValueError(f"{type(self).__name__}: layer name must be a non-empty string "
                             f"without '.', got {name!r}")
        self.name = name or unique_name(snake_case(type(self).__name__))
        self.built = False
        self._trainable = bool(trainable)
        self._weights: list[Weight] = []
        self._output_shape = None
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        if batch_input_shape is not None:
            self._batch_input_shape = tuple(batch_input_shape)
        elif input_shape is not None:
            self._batch_input_shape = (None,) + tuple(input_shape)
        else:
            self._batch_input_shape = None

    def __setattr__(self, name, value):
        if isinstance(value, Parameter):
            self._rename_weight(value, name)
        # Keras tracks layers held in a list or dict attribute: register them
        if isinstance(value, (list, tuple)) and value and \
                all(isinstance(v, Module) for v in value):
            value = ModuleList(value)
        elif isinstance(value, dict) and value and \
                all(isinstance(k, str) and isinstance(v, Module) for k, v in value.items()):
            value = ModuleDict(value)
        super().__setattr__(name, value)

    def _rename_weight(self, param, name):
        """`self.w = self.add_weight(...)`: file the parameter under the attribute's name."""
        for w in self.__dict__.get("_weights", ()):
            old = w.attrs[0]
            if len(w.attrs) == 1 and old != name and self._parameters.get(old) is param:
                del self._parameters[old]
                w.attrs = (name,)

    def __init_subclass__(cls, **kwargs):
        # as Keras: a subclass's build() marks the layer built when it returns
        super().__init_subclass__(**kwargs)
        if "build" in cls.__dict__:
            build = cls.__dict__["build"]

            @functools.wraps(build)
            def wrapped(self, *args, **kw):
                build(self, *args, **kw)
                self.built = True
            cls.build = wrapped

    # --- building ---------------------------------------------------------------------
    def build(self, input_shape) -> None:
        """Create the weights for inputs of `input_shape` (batch dim None)."""
        self.built = True

    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True,
                   autocast=True, regularizer=None, constraint=None, aggregation="none",
                   name=None):
        """Keras's add_weight, for custom layers: a Parameter of `shape` drawn from
        `initializer` (default glorot_uniform), stored in Keras's layout and registered
        under `name` (or the attribute it is assigned to). `dtype`, `autocast` and
        `aggregation` are accepted and ignored; regularizers and constraints are not
        supported."""
        if regularizer is not None or constraint is not None:
            raise NotImplementedError(f"{type(self).__name__}.add_weight: regularizer and "
                                      "constraint are not supported in fathom.keras")
        name = name or unique_name("variable")
        weight = self._add_weight(name, tuple(shape or ()), initializer or "glorot_uniform",
                                  trainable)
        return weight._get(weight.attrs[0])

    def _add_weight(self, name, shape, initializer="zeros", trainable=True, attr=None,
                    layout=None, buffer=False):
        """Create a Keras weight of `shape` drawn from `initializer`, stored as the
        parameters (or, with `buffer`, buffers) `attr` (a name or a tuple of names; default
        `name`; a dotted name is an existing parameter of a held nn module, which gets the
        value). `layout` maps Keras's layout to the stored one: None (the same), a
        permutation (the stored array is Keras's transposed by it), or a pair of functions
        `[to_keras(*stored) -> keras, from_keras(keras) -> tuple of stored]`."""
        value = initializers.get(initializer)(tuple(shape))
        to_keras, from_keras = layout if isinstance(layout, list) else permuted(layout)
        attrs = (attr or name,) if not isinstance(attr, tuple) else attr
        weight = Weight(self, name, shape, attrs, to_keras, from_keras, trainable and not buffer)
        for a, array in zip(attrs, from_keras(value)):
            if "." in a:
                weight._get(a).requires_grad_(trainable and self._trainable)
                continue
            t = Tensor(np.ascontiguousarray(array))
            if buffer:
                self.register_buffer(a, t)
            else:
                setattr(self, a, Parameter(t, requires_grad=trainable and self._trainable))
        if any("." in a for a in attrs):
            weight.assign(value)
        self._weights.append(weight)
        return weight

    def _build_for(self, args, kwargs):
        """Build from the first call's arguments (layers with several inputs override)."""
        shapes = nest_map(batch_shape, args[0]) if args else None
        self.build(shapes)
        self.built = True

    def compute_output_shape(self, input_shape):
        """The output shape (batch dim None) for `input_shape`, from a probe forward."""
        kts = KerasTensor(input_shape) if all(d is None or isinstance(d, int)
                                              for d in input_shape) else \
            [KerasTensor(s) for s in input_shape]
        out, shapes = _probe(self, (kts,), {})
        return _structured(out, shapes)

    # --- calling ----------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if any(isinstance(t, KerasTensor) for t in nest_leaves((args, kwargs))):
            return _symbolic_call(self, args, kwargs)
        if args:
            args = (nest_map(as_tensor, args[0]),) + args[1:]
        first = not self.built
        if first:
            self._build_for(args, kwargs)
            self.built = True
            self.train(self.training)  # modules made by build follow this layer's mode
            dev = next((t.device for t in nest_leaves(args) if isinstance(t, Tensor)), None)
            if dev is not None and dev.type != "cpu":
                self.to(dev)  # weights are made on the host; follow the input
        try:
            out = super().__call__(*args, **kwargs)
        except ShapeError as e:
            shapes = ", ".join(str(tuple(t.shape)) for t in nest_leaves(args)
                               if isinstance(t, Tensor))
            raise ShapeError(f"Exception encountered when calling {type(self).__name__}.call() "
                             f"(layer '{self.name}', input shapes {shapes}): {e}") from e
        if first and self._output_shape is None:
            self._output_shape = nest_map(
                lambda t: batch_shape(t) if isinstance(t, Tensor) else t, out)
        return out

    def forward(self, *args, **kwargs):
        return self.call(*args, **kwargs)

    def call(self, inputs, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define call()")

    def _mode(self, training) -> bool:
        """Keras's `training` argument: None means the module's train/eval mode."""
        return self.training if training is None else bool(training)

    # --- weights ----------------------------------------------------------------------
    def _sublayers(self):
        """Child layers, looking through plain containers (ModuleList, ModuleDict)."""
        out = []
        for m in self.children():
            out += [m] if isinstance(m, Layer) else \
                [c for c in m.children() if isinstance(c, Layer)]
        return out

    @property
    def weights(self) -> list[Weight]:
        """Own trainable weights, own non-trainable weights, then sublayers' (Keras's order)."""
        own = [w for w in self._weights if w._trainable] + \
              [w for w in self._weights if not w._trainable]
        seen, out = set(), []
        for w in own + [w for layer in self._sublayers() for w in layer.weights]:
            if id(w) not in seen:
                seen.add(id(w))
                out.append(w)
        return out

    @property
    def trainable_weights(self) -> list[Weight]:
        return [w for w in self.weights if w.trainable]

    @property
    def non_trainable_weights(self) -> list[Weight]:
        return [w for w in self.weights if not w.trainable]

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        """Freeze (False) or unfreeze this layer and every sublayer."""
        for m in self.modules():
            if isinstance(m, Layer):
                m.__dict__["_trainable"] = bool(value)
        for p in self.parameters():
            p.requires_grad_(bool(value))

    def get_weights(self) -> list[np.ndarray]:
        """The weights as NumPy arrays in Keras's layouts and order."""
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights) -> None:
        """Set every weight from Keras-layout arrays (same count, order and shapes as
        `get_weights()`)."""
        mine = self.weights
        if len(weights) != len(mine):
            raise ValueError(f"Layer '{self.name}' expects {len(mine)} weights "
                             f"{[w.shape for w in mine]}, but set_weights got {len(weights)}")
        for w, value in zip(mine, weights):
            w.assign(value)

    def count_params(self) -> int:
        """The number of scalars in the Keras weights (trainable and not)."""
        if not self.built:
            raise ValueError(f"You tried to call count_params on layer '{self.name}', but the "
                             "layer isn't built. You can build it manually via "
                             "`layer.build(input_shape)`.")
        return int(sum(np.prod(w.shape) for w in self.weights))

    @property
    def output_shape(self):
        if self._output_shape is None:
            raise AttributeError(f"The layer '{self.name}' has never been called and thus has "
                                 "no defined output shape.")
        return self._output_shape

    # --- config -----------------------------------------------------------------------
    def get_config(self) -> dict:
        """JSON data that `from_config` rebuilds this layer from (weights excluded)."""
        config = {"name": self.name, "trainable": self.trainable}
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = list(self._batch_input_shape)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def extra_repr(self) -> str:
        return f"name={self.name!r}"


# --- symbolic tensors and functional graphs -----------------------------------------------

class KerasTensor:
    """A placeholder for a functional graph: a shape with a None batch dim, a dtype, and the
    node that made it. `keras.Input(shape=(784,))` makes one; calling a layer on it
    returns new ones."""

    def __init__(self, shape, dtype="float32", node=None, index=0, name=None):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.node = node
        self.index = index
        self.name = name

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"


class Node:
    """One call of a layer in a graph: the layer, its arguments (KerasTensors in place of
    tensors) and the KerasTensors it returned."""

    def __init__(self, layer, args, kwargs, outputs):
        self.layer, self.args, self.kwargs, self.outputs = layer, args, kwargs, outputs

    @property
    def inputs(self) -> list:
        return [t for t in nest_leaves((self.args, self.kwargs)) if isinstance(t, KerasTensor)]


def _concrete(kt: KerasTensor, fill: int, device):
    """Zeros standing in for a KerasTensor: batch 1, unknown dims `fill`."""
    shape = tuple(1 if i == 0 and d is None else (fill if d is None else d)
                  for i, d in enumerate(kt.shape))
    return zeros(shape, dtype=getattr(_dt, _DTYPES.get(kt.dtype, "float32")), device=device)


def _probe(layer, args, kwargs):
    """Run `layer` on zeros in eval mode without grad (building it), restoring every
    module's mode; return (outputs, output shapes with None where the batch is or where
    the input had an unknown size)."""
    param = next(layer.parameters(), None)
    device = param.device if param is not None else None

    def run(fill):
        values = nest_map(lambda t: _concrete(t, fill, device) if isinstance(t, KerasTensor)
                          else t, (args, kwargs))
        return layer(*values[0], **values[1])

    modes, mode = [(m, m.training) for m in layer.modules()], layer.training
    layer.eval()
    try:
        with no_grad():
            # unknown sizes: two probes with sizes whose halves, thirds... differ too
            out = run(16)
            dynamic = any(d is None for t in nest_leaves((args, kwargs))
                          if isinstance(t, KerasTensor) for d in t.shape[1:])
            other = run(23) if dynamic else out
    finally:
        layer.train(mode)  # and modules the probe built
        for m, was in modes:
            m.__dict__["training"] = was

    def shape_of(a, b):
        return (None,) + tuple(x if x == y else None for x, y in zip(a.shape[1:], b.shape[1:]))

    return out, [shape_of(a, b) for a, b in zip(nest_leaves(out), nest_leaves(other))]


def _structured(out, flat):
    """`flat` (one item per tensor of `out`) arranged like `out`."""
    it = iter(flat)
    return nest_map(lambda _: next(it), out)


def _dtype_name(t: Tensor) -> str:
    return str(t.dtype).replace("fathom.", "")


def _symbolic_call(layer, args, kwargs):
    """Record `layer(*args, **kwargs)` on KerasTensors as a graph node; return the output
    KerasTensors (same nesting as the layer's real outputs)."""
    first = layer._output_shape is None
    out, shapes = _probe(layer, args, kwargs)
    leaves = nest_leaves(out)
    outputs = _structured(out, [
        KerasTensor(shape, _dtype_name(t), None, i, f"{layer.name}_out{i}" if i else layer.name)
        for i, (t, shape) in enumerate(zip(leaves, shapes))])
    node = Node(layer, args, kwargs, outputs)
    for kt in nest_leaves(outputs):
        kt.node = node
    if first:
        layer._output_shape = _structured(out, shapes)
    return outputs


class InputLayer(Layer):
    """The source of a functional graph: `InputLayer(shape=(784,))` holds a KerasTensor
    of shape (None, 784) as `.output`. No weights."""

    def __init__(self, shape=None, batch_size=None, dtype=None, batch_shape=None, name=None,
                 input_shape=None, batch_input_shape=None, **kwargs):
        shape = shape if shape is not None else input_shape
        if batch_shape is None:
            batch_shape = batch_input_shape
        if batch_shape is None:
            if shape is None:
                raise ValueError("InputLayer: pass shape=(...) (without the batch dim) or "
                                 "batch_shape=(...)")
            if isinstance(shape, int):
                shape = (shape,)
            batch_shape = (batch_size,) + tuple(shape)
        super().__init__(name=name or unique_name("input_layer"), **kwargs)
        self._batch_input_shape = tuple(batch_shape)
        self.dtype_name = dtype or "float32"
        if self.dtype_name not in _DTYPES:
            raise ValueError(f"InputLayer: unsupported dtype {dtype!r} "
                             f"(one of {', '.join(_DTYPES)})")
        self.output = KerasTensor(batch_shape, self.dtype_name, None, 0, self.name)
        self.output.node = Node(self, (), {}, self.output)
        self.built = True
        self._output_shape = self.output.shape

    def call(self, inputs):
        return inputs

    def get_config(self):
        return {"name": self.name, "batch_shape": list(self._batch_input_shape),
                "dtype": self.dtype_name}


def Input(shape=None, batch_size=None, dtype=None, batch_shape=None, name=None):
    """A KerasTensor to start a functional model: `Input(shape=(28, 28, 1))` is a batch of
    (None, 28, 28, 1)."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, batch_shape=batch_shape,
                      name=name).output


def accepts_training(layer) -> bool:
    """Whether `layer.call` takes a `training` argument (Keras passes it only then)."""
    cls = type(layer)
    if "_accepts_training" not in cls.__dict__:
        params = inspect.signature(cls.call).parameters
        cls._accepts_training = "training" in params or any(
            p.kind is p.VAR_KEYWORD for p in params.values())
    return cls._accepts_training
