"""TensorFlow versions of the bench workloads, for `fathom bench --against tf`.

The interface is fathom.bench.workloads.Context's: SUPPORTS, COVERAGE, set_threads, and
epoch_fn / steps_fn / inference_fn / add_fn, each building from the Fathom model so that
TensorFlow starts from the same weights.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's start-up banner is not a result

import tensorflow as tf  # noqa: E402

SUPPORTS = {"add"}
COVERAGE = "x + y only"


def set_threads(n: int) -> None:
    """Pin TensorFlow's intra-op pool to n threads (before it runs anything)."""
    tf.config.threading.set_intra_op_parallelism_threads(n)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def add_fn(x, y):
    """x + y, eagerly (one dispatch, as a user writes it)."""
    xt, yt = tf.constant(x), tf.constant(y)
    return lambda: (xt + yt).numpy()
