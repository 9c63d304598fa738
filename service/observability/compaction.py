"""Fold a dead worker's counters and histograms into one archive file, so /metrics stays small.

prometheus_client keeps one file per worker and type, and a scrape reads them all: every worker
restart would otherwise leave files behind forever and slow every scrape. When a worker exits,
the gunicorn master adds its counter and histogram values into `<type>_archive.db` and deletes
its files. Scrapes hold a shared lock on the directory while they read the files and the fold
an exclusive one, so a scrape never sees a value twice (archive and dead file) or not at all,
either of which Prometheus would read as a counter reset.

The master never waits long and never fails for it: it tries the lock for a bounded time, and a
fold that cannot run now (busy, or a file it cannot read) leaves the files where they are,
still counted by every scrape, to be folded with a later worker's.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client.mmap_dict import MmapedDict

log = logging.getLogger(__name__)

LOCK_FILE = ".fold.lock"
ARCHIVE = "archive"  # in place of a pid: the sum of every dead worker's values
FOLDED_TYPES = ("counter", "histogram", "summary")  # additive across processes
LOCK_ATTEMPTS, LOCK_PAUSE_SECONDS = 20, 0.025  # the master waits at most half a second

_pending: set[int] = set()  # dead workers whose files are still to fold (master only)


@contextmanager
def shared_lock(directory: Path) -> Iterator[None]:
    """Hold the fold lock shared while reading the metric files (a scrape)."""
    path = directory / LOCK_FILE
    flags = os.O_RDONLY if path.exists() else os.O_RDONLY | os.O_CREAT
    descriptor = os.open(path, flags, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def fold_dead_worker(directory: Path, pid: int) -> None:
    """Fold this dead worker's files, and any left from before, into the archive; never raise."""
    _pending.add(pid)
    try:
        descriptor = os.open(directory / LOCK_FILE, os.O_CREAT | os.O_RDONLY, 0o644)
    except OSError:
        log.exception("metrics fold: cannot open the lock in %s", directory)
        return
    try:
        if not _try_exclusive(descriptor):
            return  # scrapes hold it: the files stay counted, folded with a later worker's
        for dead in sorted(_pending):
            try:
                _fold(directory, dead)
                _pending.discard(dead)
            except Exception:  # a torn or unreadable file must not take the master down
                log.exception("metrics fold of worker %s failed; its files stay", dead)
                _pending.discard(dead)  # counted as they are; not retried forever
    finally:
        os.close(descriptor)


def _try_exclusive(descriptor: int) -> bool:
    for _ in range(LOCK_ATTEMPTS):
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            time.sleep(LOCK_PAUSE_SECONDS)
    return False


def _fold(directory: Path, pid: int) -> None:
    for kind in FOLDED_TYPES:
        dead = directory / f"{kind}_{pid}.db"
        if not dead.exists():
            continue
        values = MmapedDict.read_all_values_from_file(str(dead))  # read whole before writing
        archive = MmapedDict(str(directory / f"{kind}_{ARCHIVE}.db"))
        try:
            for key, value, timestamp, _ in values:
                current, _ = archive.read_value(key)
                archive.write_value(key, current + value, timestamp)
        finally:
            archive.close()
        dead.unlink()
