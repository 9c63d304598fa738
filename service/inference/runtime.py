"""TensorFlow, imported on first use and configured for serving: quiet logs, no oneDNN, few threads.

Only gunicorn workers import it, when their first model loads (after the fork); the master and
an app without models never do.
"""

from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger(__name__)


def tensorflow(threads: int | None = None) -> Any:
    """Return the TensorFlow module; on first use, set its intra- and inter-op thread pools."""
    # Read by TensorFlow at import time, so they must be set before the import below.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import tensorflow as tf

    if threads is not None:
        _configure_threads(tf, threads)
    return tf


def _configure_threads(tf: Any, threads: int) -> None:
    """Limit TensorFlow's thread pools (one thread per worker by default)."""
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
