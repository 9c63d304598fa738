"""Stopping a job on request (SIGTERM from a scheduler, Ctrl-C) between two safe points.

A signal handler only records the request (and starts what cancels work in flight, such as
Spark's running jobs); the engines look at it between batches and passes and unwind from there,
removing their staging directory. Raising from the handler itself could land anywhere, even
inside a library's import, which may swallow it.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from scoring.errors import JobStopped

_REQUESTED = threading.Event()
_ON_STOP: list[Callable[[], None]] = []


def request_stop(signum: int, frame: object) -> None:
    """The signal handler: record the request, start each registered cancellation. A second
    signal ends the process at once, as without the handler (for a job stuck in a read)."""
    if _REQUESTED.is_set():
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    _REQUESTED.set()
    for cancel in list(_ON_STOP):
        threading.Thread(target=cancel, name="cancel", daemon=True).start()


@contextmanager
def stoppable() -> Iterator[None]:
    """Handle SIGTERM and SIGINT with request_stop for one job, then restore the handlers and
    forget the job's request (a notebook may run several jobs in one process)."""
    _REQUESTED.clear()
    _ON_STOP.clear()
    if threading.current_thread() is not threading.main_thread():  # handlers: main thread only
        yield
        return
    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _ON_STOP.clear()


def reclaim_sigint() -> None:
    """Take SIGINT back from a library that installed its own (SparkContext does)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, request_stop)


def on_stop(cancel: Callable[[], None]) -> None:
    """Call `cancel` (on a thread of its own) when a stop is requested."""
    _ON_STOP.append(cancel)
    if _REQUESTED.is_set():
        threading.Thread(target=cancel, name="cancel", daemon=True).start()


def check_stop() -> None:
    """Unwind here if a stop was requested."""
    if _REQUESTED.is_set():
        raise JobStopped("stopped on request")
