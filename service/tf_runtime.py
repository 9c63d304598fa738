"""TensorFlow, imported configured for serving: quiet logs, no oneDNN, bounded threads.

Only gunicorn workers import this (after the fork, through the app); the master never does.
"""

from __future__ import annotations

import logging
import os

# Read by TensorFlow at import time, so they must be set before the import below.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import tensorflow as tf  # noqa: E402

log = logging.getLogger(__name__)


def configure_threads(threads: int) -> None:
    """Limit TensorFlow's intra- and inter-op pools (one thread per worker by default)."""
    current = (
        tf.config.threading.get_intra_op_parallelism_threads(),
        tf.config.threading.get_inter_op_parallelism_threads(),
    )
    if current == (threads, threads):
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        # The runtime is already initialised (a second app in one process, e.g. tests).
        log.warning("TensorFlow already initialised; keeping its threads at %s", current)


__all__ = ["configure_threads", "tf"]
