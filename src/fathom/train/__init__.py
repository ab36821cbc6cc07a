"""fathom.train: one training loop for both dialects.

`Trainer(model, optimizer, loss_fn, ...)` with `fit` (returns a Keras-style `History`),
`evaluate`, `predict`, resumable checkpoints and graceful Ctrl-C/SIGTERM; Keras-named
callbacks; `cross_validate`; and plots (`plot_history`, `plot_confusion_matrix`).
"""
from . import callbacks
from .callbacks import (Callback, CSVLogger, EarlyStopping, History, LambdaCallback,
                        LearningRateScheduler, LRScheduler, ModelCheckpoint, PlotHistory,
                        ProgressBar, ReduceLROnPlateau, TensorBoard)
from .cross_validation import CVResult, cross_validate
from .plots import plot_confusion_matrix, plot_history
from .trainer import Trainer

__all__ = ["Trainer", "History", "Callback", "CSVLogger", "EarlyStopping", "LambdaCallback",
           "LearningRateScheduler", "LRScheduler", "ModelCheckpoint", "PlotHistory",
           "ProgressBar", "ReduceLROnPlateau", "TensorBoard", "cross_validate", "CVResult",
           "plot_history", "plot_confusion_matrix", "callbacks"]
