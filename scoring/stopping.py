"""Stopping a job on request (SIGTERM from a scheduler, Ctrl-C) between two safe points.

A signal handler only records the request (and starts what cancels work in flight, such as
Spark's running jobs); the engines look at it between batches and passes and unwind from there,
removing their staging directory. Raising from the handler itself could land anywhere, even
inside a library's import, which may swallow it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from scoring.errors import JobStopped

_REQUESTED = threading.Event()
_ON_STOP: list[Callable[[], None]] = []


def request_stop(signum: int, frame: object) -> None:
    """The signal handler: record the request, start each registered cancellation."""
    _REQUESTED.set()
    for cancel in list(_ON_STOP):
        threading.Thread(target=cancel, name="cancel", daemon=True).start()


def on_stop(cancel: Callable[[], None]) -> None:
    """Call `cancel` (on a thread of its own) when a stop is requested."""
    _ON_STOP.append(cancel)
    if _REQUESTED.is_set():
        threading.Thread(target=cancel, name="cancel", daemon=True).start()


def stop_requested() -> bool:
    return _REQUESTED.is_set()


def check_stop() -> None:
    """Unwind here if a stop was requested."""
    if _REQUESTED.is_set():
        raise JobStopped("stopped on request")
