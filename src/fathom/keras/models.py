"""keras.Model and keras.Sequential: fathom.nn.Modules that hold Keras layers.

Three ways to build one, as in Keras:
- `Sequential([Dense(256, activation="relu", input_shape=(784,)), Dense(10)])` (or `.add`);
- functional: `x = keras.Input(shape=(784,)); y = Dense(10)(x); Model(x, y)`, a graph of
  layer calls (several inputs and outputs, merges, a layer reused shares its weights);
- subclassing: `__init__` assigns layers, `call(self, inputs, training=None)` computes.

A Model is its own computation module (`model.module is model`): `state_dict()` holds
PyTorch-layout tensors keyed by layer name (`dense.weight`), and it trains through
`fathom.train.Trainer`, exports and serves like any fathom.nn.Module. compile/fit/
evaluate/predict come from `keras.training`; save/load from `keras.saving`.
"""
from __future__ import annotations

import json

import numpy as np

from . import training
from .layers.base import (InputLayer, KerasTensor, Layer, _probe, accepts_training, as_tensor,
                          nest_leaves, nest_map, snake_case, unique_name)

__all__ = ["Model", "Sequential", "Functional", "model_from_json"]


def _is_shape(x) -> bool:
    return isinstance(x, (tuple, list)) and all(d is None or isinstance(d, int) for d in x)


def _fmt_shape(shape) -> str:
    """(None, 10) as Keras prints it; a list of shapes joined (several outputs)."""
    if isinstance(shape, list):
        return ", ".join(_fmt_shape(s) for s in shape)
    return "?" if shape is None else str(tuple(shape))


def _memory(n) -> str:
    """Keras's size text for n float32 parameters: '795.04 KB'."""
    size = n * 4.0
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024


class Model(Layer):
    """A Keras model (see the module docstring for the three ways to build one).

    Functional: `Model(inputs, outputs, name=None)` with KerasTensors from `keras.Input`.
    Subclassed: define `call(self, inputs, training=None)`; `training` is passed through
    (None means the module's train/eval mode). Input (N, ...) -> outputs of the graph.
    """

    compile = training.compile
    fit = training.fit
    evaluate = training.evaluate
    predict = training.predict
    train_on_batch = training.train_on_batch
    test_on_batch = training.test_on_batch
    predict_on_batch = training.predict_on_batch
    reset_metrics = training.reset_metrics

    def __init__(self, *args, **kwargs):
        inputs = kwargs.pop("inputs", args[0] if args else None)
        outputs = kwargs.pop("outputs", args[1] if len(args) > 1 else None)
        if len(args) > 2:
            raise TypeError("Model(inputs, outputs, name=None, trainable=True): too many "
                            "positional arguments")
        functional = inputs is not None or outputs is not None
        default = "functional" if functional and type(self) in (Model, Functional) else \
            snake_case(type(self).__name__)
        kwargs["name"] = kwargs.get("name") or unique_name(default)
        super().__init__(**kwargs)
        self.optimizer = self.loss = self.compiled_metrics = self.compile_config = None
        self.stop_training = False
        self._build_input_shape = None
        self._graph = None
        if functional:
            if inputs is None or outputs is None:
                raise ValueError("a functional Model needs both inputs and outputs")
            self._init_graph(inputs, outputs)

    # --- the functional graph ---------------------------------------------------------
    def _init_graph(self, inputs, outputs):
        for kt in nest_leaves((inputs, outputs)):
            if not isinstance(kt, KerasTensor):
                raise TypeError(f"Model: inputs and outputs must be KerasTensors (from "
                                f"keras.Input and layer calls); got {type(kt).__name__}")
        flat_in = nest_leaves(inputs)
        for kt in flat_in:
            if not isinstance(kt.node.layer, InputLayer):
                raise ValueError(f"Model: every input must come from keras.Input; {kt} was made "
                                 f"by layer '{kt.node.layer.name}'")
        nodes = _topological(nest_leaves(outputs))
        known = {id(n) for n in (kt.node for kt in flat_in)}
        for node in nodes:
            if isinstance(node.layer, InputLayer) and id(node) not in known:
                raise ValueError(f"Graph disconnected: the outputs depend on input "
                                 f"'{node.layer.name}', which is not among the model's inputs")
        layers = []
        for node in nodes:
            if node.layer not in layers:
                layers.append(node.layer)
        for layer in layers:
            if layer.name in self._modules:
                raise ValueError(f"The name '{layer.name}' is used 2 times in the model. All "
                                 "layer names should be unique.")
            self.add_module(layer.name, layer)
        self.__dict__.update(_graph=nodes, _graph_layers=layers, _nested_inputs=inputs,
                             _nested_outputs=outputs)
        self.inputs, self.outputs = flat_in, nest_leaves(outputs)
        self.built = True

    def _run_graph(self, inputs, training):
        flat = nest_leaves(inputs) if isinstance(inputs, (list, tuple, dict)) else [inputs]
        if len(flat) != len(self.inputs):
            raise ValueError(f"Model '{self.name}' expects {len(self.inputs)} input(s) "
                             f"{[kt.shape for kt in self.inputs]}, got {len(flat)}")
        values = {}
        for kt, x in zip(self.inputs, flat):
            x = as_tensor(x, kt.dtype)
            if x.ndim != len(kt.shape) or any(d is not None and d != s for d, s in
                                              zip(kt.shape[1:], x.shape[1:])):
                raise ValueError(f"Input '{kt.name}' of model '{self.name}' is incompatible: "
                                 f"expected shape {kt.shape}, got {tuple(x.shape)}")
            values[id(kt)] = x
        for node in self._graph:
            if isinstance(node.layer, InputLayer):
                continue
            args, kwargs = nest_map(lambda t: values[id(t)] if isinstance(t, KerasTensor) else t,
                                    (node.args, node.kwargs))
            if accepts_training(node.layer) and "training" not in kwargs:
                kwargs["training"] = training
            out = node.layer(*args, **kwargs)
            for kt, value in zip(nest_leaves(node.outputs), nest_leaves(out)):
                values[id(kt)] = value
        return nest_map(lambda kt: values[id(kt)], self._nested_outputs)

    # --- calling and building ---------------------------------------------------------
    def call(self, inputs, training=None):
        if self._graph is None:
            raise NotImplementedError(f"{type(self).__name__}: a subclassed Model must define "
                                      "call(self, inputs, training=None)")
        return self._run_graph(inputs, training)

    def _build_for(self, args, kwargs):
        # sublayers build themselves in the forward; remember the shape for saving
        if args:
            self._build_input_shape = nest_map(lambda t: list((None,) + tuple(t.shape[1:])),
                                               args[0])
        self.built = True

    def build(self, input_shape=None):
        """Build every layer for inputs of `input_shape` (batch dim None; a list of shapes
        for several inputs) by a no-grad eval-mode forward on zeros that changes no state."""
        if self._graph is not None or self.built:
            return
        if input_shape is None:
            input_shape = self._batch_input_shape
        if input_shape is None:
            raise ValueError(f"Model '{self.name}': build() needs an input_shape, e.g. "
                             "model.build((None, 784))")
        kts = KerasTensor(input_shape) if _is_shape(input_shape) else \
            [KerasTensor(s) for s in input_shape]
        _probe(self, (kts,), {})
        self._build_input_shape = list(input_shape) if _is_shape(input_shape) else \
            [list(s) for s in input_shape]
        self.built = True

    @property
    def module(self):
        """The fathom.nn.Module that runs the computation: the model itself."""
        return self

    # --- introspection ----------------------------------------------------------------
    @property
    def layers(self) -> list:
        if self._graph is not None:
            return list(self._graph_layers)
        return self._sublayers()

    def get_layer(self, name=None, index=None):
        """The layer called `name` (or at position `index` of `layers`)."""
        if index is not None:
            if not 0 <= index < len(self.layers):
                raise ValueError(f"Model '{self.name}' has {len(self.layers)} layers; "
                                 f"no index {index}")
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: "
                         f"{[layer.name for layer in self.layers]}.")

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Print Keras's table: Layer (type), Output Shape, Param #, then the totals (sizes
        as float32). Plain text, not Keras 3's box drawing; expand_nested, show_trainable
        and layer_range are accepted and ignored."""
        width = line_length or 98
        cols = [int(width * p) if p <= 1 else int(p) for p in (positions or (0.45, 0.85, 1.0))]
        rows = [("Layer (type)", "Output Shape", "Param #")]
        for layer in self.layers:
            shape = _fmt_shape(layer._output_shape) if layer._output_shape is not None else "?"
            count = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
            rows.append((f"{layer.name} ({type(layer).__name__})", shape, count))

        def line(name, shape, count):
            a, b, c = cols[0] - 1, cols[1] - cols[0], cols[2] - cols[1]
            return f" {name:<{a}.{a - 1}}{shape:<{b}.{b - 1}}{count:>{c}}".rstrip()

        out = [f'Model: "{self.name}"', "_" * width, line(*rows[0]), "=" * width]
        for i, row in enumerate(rows[1:]):
            out += [line(*row), "_" * width if i < len(rows) - 2 else "=" * width]
        if len(rows) == 1:
            out.append("=" * width)
        built = self.built and all(layer.built for layer in self.layers)
        trainable = sum(int(np.prod(w.shape)) for w in self.trainable_weights) if built else 0
        frozen = sum(int(np.prod(w.shape)) for w in self.non_trainable_weights) if built else 0
        out += [f" Total params: {trainable + frozen:,} ({_memory(trainable + frozen)})",
                f" Trainable params: {trainable:,} ({_memory(trainable)})",
                f" Non-trainable params: {frozen:,} ({_memory(frozen)})"]
        (print_fn or print)("\n".join(out))

    # --- config and files -------------------------------------------------------------
    def get_config(self) -> dict:
        from .saving import functional_config  # noqa: PLC0415 - saving imports models

        if self._graph is None:
            raise NotImplementedError(f"Model '{self.name}' is a subclassed model: its "
                                      "architecture is Python code, so it has no config. Save "
                                      "its weights with save_weights() (as in Keras).")
        return functional_config(self)

    @classmethod
    def from_config(cls, config):
        """A functional model from `get_config()` (closed layer registry, see keras.saving)."""
        from .saving import functional_from_config  # noqa: PLC0415

        return functional_from_config(config, "config")

    def to_json(self, **kwargs) -> str:
        """The architecture as JSON (`{'class_name': ..., 'config': ...}`), no weights."""
        from .saving import serialize_layer  # noqa: PLC0415

        return json.dumps(serialize_layer(self), **kwargs)

    def save(self, filepath, overwrite=True, **kwargs):
        """Write architecture, weights and compile config to one file (keras.saving)."""
        from .saving import save_model  # noqa: PLC0415

        save_model(self, filepath, overwrite=overwrite, **kwargs)

    def save_weights(self, filepath, overwrite=True):
        """Write `state_dict()` (PyTorch layouts, keys by layer name) as safetensors."""
        from .saving import save_weights  # noqa: PLC0415

        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch=False):
        """Load weights written by `save_weights` (or `save`) into this built model."""
        from .saving import load_weights  # noqa: PLC0415

        load_weights(self, filepath, skip_mismatch=skip_mismatch)


Functional = Model  # Keras names the class of functional models "Functional"


def _topological(outputs) -> list:
    """Every node the KerasTensors `outputs` depend on, inputs first (no recursion)."""
    order, seen = [], set()
    stack = [(kt.node, False) for kt in reversed(outputs)]
    while stack:
        node, expanded = stack.pop()
        if id(node) in seen:
            continue
        if expanded:
            seen.add(id(node))
            order.append(node)
            continue
        stack.append((node, True))
        stack.extend((kt.node, False) for kt in reversed(node.inputs) if id(kt.node) not in seen)
    return order


class Sequential(Model):
    """A linear stack of layers: `Sequential([layer, ...])` or `.add(layer)`, each layer's
    output the next one's input. With `keras.Input(...)`, an `InputLayer`, or
    `input_shape=` on the first layer the model builds at once (summary shows shapes);
    otherwise at its first call or `build(input_shape)`.

    Submodules are registered under the layer names, so `state_dict()` keys read
    `dense.weight`, `dense_1.bias`, ...
    """

    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(trainable=trainable, name=name)
        self.__dict__["_stack"] = []
        self._input_layer = None
        for layer in layers or []:
            self.add(layer)

    def add(self, layer, rebuild=True):
        """Append a layer (a KerasTensor from keras.Input or an InputLayer sets the input)."""
        if isinstance(layer, KerasTensor):
            layer = layer.node.layer
        if isinstance(layer, InputLayer):
            if self._stack:
                raise ValueError("Sequential: an InputLayer can only be the first layer")
            self.__dict__["_input_layer"] = layer
            self._batch_input_shape = layer._batch_input_shape
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add: expected a keras layer, got {type(layer).__name__}"
                            " (wrap fathom.nn modules in a keras.Model subclass)")
        if layer.name in self._modules:
            raise ValueError(f"Sequential: all layers added to a Sequential model should have "
                             f"unique names; '{layer.name}' is already in '{self.name}'")
        if not self._stack and self._batch_input_shape is None:
            self._batch_input_shape = layer._batch_input_shape
        self.add_module(layer.name, layer)
        self._stack.append(layer)
        self.built = False
        if rebuild and self._batch_input_shape is not None:
            self.build(self._batch_input_shape)

    def pop(self, rebuild=True):
        """Remove and return the last layer."""
        if not self._stack:
            raise TypeError("There are no layers in the model.")
        layer = self._stack.pop()
        del self._modules[layer.name]
        return layer

    @property
    def layers(self) -> list:
        return list(self._stack)

    def call(self, inputs, training=None):
        x = inputs
        for layer in self._stack:
            x = layer(x, training=training) if accepts_training(layer) else layer(x)
        return x

    def get_config(self) -> dict:
        from .saving import sequential_config  # noqa: PLC0415

        return sequential_config(self)

    @classmethod
    def from_config(cls, config):
        from .saving import sequential_from_config  # noqa: PLC0415

        return sequential_from_config(config, "config")


def model_from_json(json_string, custom_objects=None):
    """A model (untrained weights) from `model.to_json()`; nothing named is imported."""
    from .saving import deserialize_layer  # noqa: PLC0415

    config = json.loads(json_string)
    return deserialize_layer(config, "model JSON", custom_objects)
