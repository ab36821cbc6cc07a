"""keras.layers: Keras's layers, each a thin fathom.nn.Module over fathom.nn.functional.

Images are channels-last by default ((N, H, W, C)); sizes are inferred at the first call
or from `input_shape`; `get_weights()` gives Keras's layouts while `state_dict()` keeps
PyTorch's. `deserialize` rebuilds a layer from its config using only the classes
listed here (a closed registry: nothing named in a config is imported).

    >>> layer = keras.layers.Dense(3, activation="relu")
    >>> layer(fathom.ones(2, 4)).shape
    fathom.Size([2, 3])
"""
from __future__ import annotations

from .attention import MultiHeadAttention
from .base import Input, InputLayer, KerasTensor, Layer
from .conv import (AveragePooling1D, AveragePooling2D, Conv1D, Conv2D, Conv2DTranspose,
                   GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D,
                   GlobalMaxPooling2D, MaxPooling1D, MaxPooling2D, ZeroPadding2D)
from .core import (Activation, Add, Average, Concatenate, Dense, Dropout, Embedding, Flatten,
                   LeakyReLU, Maximum, Minimum, Multiply, Permute, ReLU, Reshape, Softmax,
                   Subtract)
from .norm import BatchNormalization, LayerNormalization
from .rnn import GRU, LSTM, Bidirectional, SimpleRNN

# Keras's aliases
MaxPool1D, MaxPool2D, AvgPool1D, AvgPool2D = MaxPooling1D, MaxPooling2D, AveragePooling1D, \
    AveragePooling2D
GlobalAvgPool2D, GlobalMaxPool2D = GlobalAveragePooling2D, GlobalMaxPooling2D
GlobalAvgPool1D, GlobalMaxPool1D = GlobalAveragePooling1D, GlobalMaxPooling1D
Convolution2D, Convolution1D = Conv2D, Conv1D

LAYERS = {cls.__name__: cls for cls in (
    InputLayer, Dense, Activation, ReLU, LeakyReLU, Softmax, Flatten, Reshape, Permute, Dropout,
    Embedding, Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum, Conv1D, Conv2D,
    Conv2DTranspose, MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D,
    GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D,
    ZeroPadding2D, BatchNormalization, LayerNormalization, SimpleRNN, LSTM, GRU, Bidirectional,
    MultiHeadAttention)}

__all__ = sorted(LAYERS) + ["Input", "Layer", "KerasTensor", "deserialize", "serialize"]


def serialize(layer) -> dict:
    """{'class_name': ..., 'config': {...}}: JSON data for a registry layer."""
    name = type(layer).__name__
    if LAYERS.get(name) is not type(layer):
        raise ValueError(f"cannot serialize layer '{layer.name}' of class {name}: only the "
                         "fathom.keras.layers classes can be saved as architecture (save "
                         "the weights with save_weights and keep the class in code)")
    return {"class_name": name, "config": layer.get_config()}


def deserialize(config, where="layer config"):
    """A layer from `{'class_name': ..., 'config': {...}}`; the class must be one of the
    registry's names (anything else, such as 'Lambda' or 'os.system', is refused)."""
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str) or \
            not isinstance(config.get("config"), dict):
        raise ValueError(f"{where}: expected {{'class_name': str, 'config': dict}}, got "
                         f"{str(config)[:200]}")
    name = config["class_name"]
    if name not in LAYERS:
        raise ValueError(f"{where}: unknown layer class {name!r}; only fathom.keras.layers "
                         f"classes can be loaded ({', '.join(sorted(LAYERS))}); nothing named "
                         "in a file is ever imported or run")
    try:
        return LAYERS[name].from_config(config["config"])
    except (TypeError, ValueError, KeyError, NotImplementedError) as e:
        raise ValueError(f"{where}: bad config for {name}: {e}") from None
