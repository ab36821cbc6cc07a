"""fathom.keras: the Keras dialect on Fathom's engine.

`Sequential`, `Model` (functional or subclassed), `Input`, `layers` (channels-last),
`compile/fit/evaluate/predict` on `fathom.train.Trainer`, `callbacks`, `optimizers`,
`losses`, `metrics`, `datasets`, and `save`/`load_model`. Every layer is a thin
`fathom.nn.Module` over `fathom.nn.functional`, so a Keras model is also a PyTorch-dialect
module (`model.module`, `model.state_dict()`).

    >>> from fathom import keras
    >>> model = keras.Sequential([keras.layers.Dense(10, input_shape=(784,))])
    >>> model.count_params()
    7850
"""
from . import activations, initializers, layers  # noqa: F401
from . import callbacks, datasets, losses, metrics, optimizers  # noqa: F401
from . import models, saving, utils  # noqa: F401
from .layers import Input, Layer  # noqa: F401
from .models import Model, Sequential  # noqa: F401
from .saving import load_model  # noqa: F401

models.load_model = load_model  # keras.models.load_model, as in Keras

__all__ = ["Sequential", "Model", "Input", "Layer", "load_model", "layers", "models",
           "optimizers", "losses", "metrics", "callbacks", "datasets", "activations",
           "initializers", "saving", "utils"]
