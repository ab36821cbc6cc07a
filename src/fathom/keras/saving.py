"""keras.saving: `model.save(path)` / `load_model(path)`, and weights-only files.

The format (Fathom's, not Keras's zip): ONE safetensors file (suggested suffix
`.fathom.keras`) holding the model's `state_dict()` (PyTorch layouts, keys by layer
name) and, in the safetensors header's `__metadata__` strings:
- `format`: "fathom.keras", `format_version`: "1";
- `model_config`: JSON, `{"class_name": "Sequential" | "Functional", "config": {...}}`;
  every layer is `{"class_name": <a fathom.keras.layers class>, "config": {...}}` and a
  functional config lists its graph's nodes in order, tensors referenced as
  `{"__tensor__": [node, output]}`;
- `compile_config`: JSON of the `compile(...)` arguments when every one was a name or
  a keras object with a config (replayed as `model.compile(**config)`);
- `weight_order`: JSON list of the state_dict keys in order.

Loading never imports or runs anything named in the file: layer classes, activations
and initializers are looked up in closed registries (`custom_objects`, passed in code by
the caller, may add Layer subclasses). Any unknown name (`Lambda`, `os.system`), wrong
type or malformed field raises `fathom.io.FileFormatError` naming the file and field.

Subclassed models are Python code: `save_weights`/`load_weights` store only their
weights (as Keras), and `model.save` refuses them with that advice.

    model.save("mlp.fathom.keras")
    same = keras.models.load_model("mlp.fathom.keras")
"""
from __future__ import annotations

import json
import os

from ..creation import from_numpy
from ..io import FileFormatError, save_file
from ..io.safetensors_file import file_name, parse_json, read
from . import layers as _layers
from .layers.base import InputLayer, KerasTensor, Layer, nest_leaves
from .models import Model, Sequential

__all__ = ["save_model", "load_model", "save_weights", "load_weights", "serialize_layer",
           "deserialize_layer"]

FORMAT, VERSION = "fathom.keras", "1"


# --- configs --------------------------------------------------------------------------

def serialize_layer(layer) -> dict:
    """`{'class_name', 'config'}` for a registry layer, a Sequential or a functional Model."""
    if isinstance(layer, Sequential):
        return {"class_name": "Sequential", "config": sequential_config(layer)}
    if isinstance(layer, Model) and type(layer) is Model and layer._graph is not None:
        return {"class_name": "Functional", "config": functional_config(layer)}
    if isinstance(layer, Model):
        raise ValueError(f"cannot save model '{layer.name}' of class {type(layer).__name__}: a "
                         "subclassed model's architecture is Python code; use save_weights() "
                         "and rebuild the model in code (as in Keras)")
    return _layers.serialize(layer)


def deserialize_layer(config, where="layer config", custom_objects=None):
    """The inverse of `serialize_layer`, from the closed registry (plus `custom_objects`)."""
    name = config.get("class_name") if isinstance(config, dict) else None
    inner = config.get("config") if isinstance(config, dict) else None
    if name in ("Sequential", "Functional") and isinstance(inner, dict):
        build = sequential_from_config if name == "Sequential" else functional_from_config
        return build(inner, f"{where}.config", custom_objects)
    custom = {k: v for k, v in (custom_objects or {}).items()
              if isinstance(v, type) and issubclass(v, Layer)}
    if name in custom and isinstance(inner, dict):
        try:
            return custom[name].from_config(inner)
        except (TypeError, ValueError, KeyError) as e:
            raise ValueError(f"{where}: bad config for {name}: {e}") from None
    return _layers.deserialize(config, where)


def _json_arg(x, index, where):
    """A call argument as JSON data; KerasTensors become {'__tensor__': [node, output]}."""
    if isinstance(x, KerasTensor):
        return {"__tensor__": [index[id(x.node)], x.index]}
    if isinstance(x, (list, tuple)):
        return [_json_arg(v, index, where) for v in x]
    if isinstance(x, dict) and all(isinstance(k, str) for k in x):
        return {k: _json_arg(v, index, where) for k, v in x.items()}
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    raise ValueError(f"{where}: cannot save a call argument of type {type(x).__name__} "
                     "(only tensors from the graph and JSON data)")


def functional_config(model) -> dict:
    index = {id(node): i for i, node in enumerate(model._graph)}
    nodes = [{"layer": node.layer.name,
              "args": _json_arg(list(node.args), index, f"layer '{node.layer.name}'"),
              "kwargs": _json_arg(node.kwargs, index, f"layer '{node.layer.name}'")}
             for node in model._graph]
    return {"name": model.name, "trainable": model.trainable,
            "layers": [serialize_layer(layer) for layer in model._graph_layers],
            "nodes": nodes, "inputs": _json_arg(model._nested_inputs, index, "inputs"),
            "outputs": _json_arg(model._nested_outputs, index, "outputs")}


def sequential_config(model) -> dict:
    layers = ([serialize_layer(model._input_layer)] if model._input_layer else []) + \
        [serialize_layer(layer) for layer in model.layers]
    return {"name": model.name, "trainable": model.trainable, "layers": layers,
            "build_input_shape": model._build_input_shape}


def _field(config, key, kind, where):
    if not isinstance(config, dict) or key not in config:
        raise ValueError(f"{where}: missing field '{key}'")
    value = config[key]
    if not isinstance(value, kind):
        raise ValueError(f"{where}.{key}: expected {getattr(kind, '__name__', kind)}, got "
                         f"{type(value).__name__}")
    return value


def _name(config, where):
    name = config.get("name")
    if name is not None and not isinstance(name, str):
        raise ValueError(f"{where}.name: expected a string, got {type(name).__name__}")
    return name


def sequential_from_config(config, where, custom_objects=None):
    model = Sequential(name=_name(config, where))
    for i, layer_config in enumerate(_field(config, "layers", list, where)):
        model.add(deserialize_layer(layer_config, f"{where}.layers[{i}]", custom_objects),
                  rebuild=False)
    shape = config.get("build_input_shape") or model._batch_input_shape
    if shape is not None:
        try:
            model.build(shape if all(d is None or isinstance(d, int) for d in shape)
                        else [tuple(s) for s in shape])
        except (TypeError, ValueError) as e:
            raise ValueError(f"{where}.build_input_shape: cannot build with {shape!r}: "
                             f"{e}") from None
    model.trainable = bool(config.get("trainable", True))
    return model


def functional_from_config(config, where, custom_objects=None):
    by_name = {}
    for i, layer_config in enumerate(_field(config, "layers", list, where)):
        layer = deserialize_layer(layer_config, f"{where}.layers[{i}]", custom_objects)
        if layer.name in by_name:
            raise ValueError(f"{where}.layers[{i}]: the layer name '{layer.name}' is used twice")
        by_name[layer.name] = layer
    produced = []

    def resolve(x, at):
        if isinstance(x, dict) and "__tensor__" in x:
            ref = x["__tensor__"]
            if not (isinstance(ref, list) and len(ref) == 2 and all(type(v) is int for v in ref)
                    and 0 <= ref[0] < len(produced) and 0 <= ref[1] < len(produced[ref[0]])):
                raise ValueError(f"{at}: bad tensor reference {ref!r} (a [node, output] pair "
                                 "naming an earlier node)")
            return produced[ref[0]][ref[1]]
        if isinstance(x, list):
            return [resolve(v, at) for v in x]
        if isinstance(x, dict):
            return {k: resolve(v, at) for k, v in x.items()}
        return x

    for i, node in enumerate(_field(config, "nodes", list, where)):
        at = f"{where}.nodes[{i}]"
        layer = by_name.get(_field(node, "layer", str, at))
        if layer is None:
            raise ValueError(f"{at}.layer: no layer named {node['layer']!r} in layers")
        if isinstance(layer, InputLayer):
            produced.append([layer.output])
            continue
        args = resolve(_field(node, "args", list, at), f"{at}.args")
        kwargs = resolve(_field(node, "kwargs", dict, at), f"{at}.kwargs")
        try:
            produced.append(nest_leaves(layer(*args, **kwargs)))
        except (TypeError, ValueError, RuntimeError, NotImplementedError) as e:
            raise ValueError(f"{at}: calling layer '{layer.name}' failed: {e}") from None
    inputs = resolve(config.get("inputs"), f"{where}.inputs")
    outputs = resolve(config.get("outputs"), f"{where}.outputs")
    try:
        model = Model(inputs, outputs, name=_name(config, where))
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: {e}") from None
    model.trainable = bool(config.get("trainable", True))
    return model


# --- files ----------------------------------------------------------------------------

def _check_path(filepath, overwrite):
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{os.fspath(filepath)} exists and overwrite=False")


def _weights_and_meta(model):
    sd = model.state_dict()
    return dict(sd), {"format": FORMAT, "format_version": VERSION,
                      "weight_order": json.dumps(list(sd))}


def save_model(model, filepath, overwrite=True, **kwargs):
    """Write `model` (Sequential or functional) to one safetensors file (module docstring)."""
    if kwargs:
        raise TypeError(f"save: unsupported arguments {sorted(kwargs)}")
    _check_path(filepath, overwrite)
    config = serialize_layer(model)
    tensors, meta = _weights_and_meta(model)
    try:
        meta["model_config"] = json.dumps(config, allow_nan=False)
        if getattr(model, "compile_config", None) is not None:
            meta["compile_config"] = json.dumps(model.compile_config, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"save: model '{model.name}' has a config that is not JSON data: "
                         f"{e}") from None
    save_file(tensors, filepath, meta)


def save_weights(model, filepath, overwrite=True):
    """Write only `model.state_dict()` (any model, subclassed included)."""
    _check_path(filepath, overwrite)
    if not model.built:
        raise ValueError(f"save_weights: model '{model.name}' is not built yet (call it or "
                         "model.build(input_shape) first)")
    tensors, meta = _weights_and_meta(model)
    save_file(tensors, filepath, meta)


def _read(filepath):
    arrays, meta = read(filepath)
    name = file_name(filepath)
    if meta.get("format") != FORMAT:
        raise FileFormatError(f"{name}: field 'format' is {meta.get('format')!r}, not "
                              f"{FORMAT!r} (not written by fathom.keras save/save_weights)")
    if meta.get("format_version") != VERSION:
        raise FileFormatError(f"{name}: field 'format_version' is "
                              f"{meta.get('format_version')!r}; this Fathom reads {VERSION!r}")
    return name, {k: from_numpy(a.copy()) for k, a in arrays.items()}, meta


def _load_state(model, tensors, meta, name, positional=True):
    """Load by key; when every key differs but the shapes agree in order (the same
    architecture with other auto-generated layer names), load by position."""
    sd = model.state_dict()
    if positional and set(tensors) != set(sd):
        order = parse_json(f"{name}: field 'weight_order'", meta.get("weight_order", "[]")
                           .encode())
        if isinstance(order, list) and sorted(order) == sorted(tensors) and \
                len(order) == len(sd) and all(tuple(tensors[k].shape) == tuple(v.shape)
                                              for k, v in zip(order, sd.values())):
            tensors = {key: tensors[k] for key, k in zip(sd, order)}
    try:
        model.load_state_dict(tensors)
    except (KeyError, RuntimeError, ValueError) as e:
        raise FileFormatError(f"{name}: the weights do not fit model '{model.name}': "
                              f"{e}") from None


def load_weights(model, filepath, skip_mismatch=False):
    """Load a file from `save_weights` or `save` into a built model."""
    if not model.built:
        raise ValueError(f"load_weights: model '{model.name}' is not built yet (call it or "
                         "model.build(input_shape) first)")
    name, tensors, meta = _read(filepath)
    if skip_mismatch:
        sd = model.state_dict()
        tensors = {k: v for k, v in tensors.items()
                   if k in sd and tuple(v.shape) == tuple(sd[k].shape)}
        model.load_state_dict(tensors, strict=False)
        return
    _load_state(model, tensors, meta, name)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Rebuild a model saved by `model.save`: architecture, weights and (with `compile`)
    the compile configuration. `safe_mode` is always on: nothing is imported."""
    name, tensors, meta = _read(filepath)
    if "model_config" not in meta:
        raise FileFormatError(f"{name}: no field 'model_config' (a weights-only file: build "
                              "the model in code and call model.load_weights)")
    config = parse_json(f"{name}: field 'model_config'", meta["model_config"].encode())
    try:
        model = deserialize_layer(config, "model_config", custom_objects)
    except ValueError as e:
        raise FileFormatError(f"{name}: {e}") from None
    if not isinstance(model, Model):
        raise FileFormatError(f"{name}: model_config.class_name must be Sequential or "
                              f"Functional, got {config.get('class_name')!r}")
    _load_state(model, tensors, meta, name, positional=False)
    if compile and "compile_config" in meta:
        cc = parse_json(f"{name}: field 'compile_config'", meta["compile_config"].encode())
        if not isinstance(cc, dict):
            raise FileFormatError(f"{name}: field 'compile_config' must be a JSON object")
        try:
            model.compile(**cc)
        except (TypeError, ValueError, KeyError) as e:
            raise FileFormatError(f"{name}: field 'compile_config' cannot be replayed: "
                                  f"{e}") from None
    return model
