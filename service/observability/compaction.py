"""Fold a dead worker's counters and histograms into one archive file, so /metrics stays small.

prometheus_client keeps one file per worker and type, and a scrape reads them all: every worker
restart would otherwise leave files behind forever and slow every scrape. When a worker exits,
the gunicorn master adds its counter and histogram values into `<type>_archive.db` and deletes
its files. Scrapes take a shared lock on the directory and the fold an exclusive one, so a
scrape never sees a value twice (archive and dead file) or not at all (neither), either of which
Prometheus would read as a counter reset.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client.mmap_dict import MmapedDict

LOCK_FILE = ".fold.lock"
ARCHIVE = "archive"  # in place of a pid: the sum of every dead worker's values
FOLDED_TYPES = ("counter", "histogram", "summary")  # additive across processes


@contextmanager
def locked(directory: Path, exclusive: bool) -> Iterator[None]:
    """Hold the directory's fold lock: shared to read the files, exclusive to fold them."""
    descriptor = os.open(directory / LOCK_FILE, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def fold_dead_worker(directory: Path, pid: int) -> None:
    """Add a dead worker's counters and histograms to the archive and delete its files."""
    with locked(directory, exclusive=True):
        for kind in FOLDED_TYPES:
            dead = directory / f"{kind}_{pid}.db"
            if not dead.exists():
                continue
            archive = MmapedDict(str(directory / f"{kind}_{ARCHIVE}.db"))
            try:
                for key, value, timestamp, _ in MmapedDict.read_all_values_from_file(str(dead)):
                    current, _ = archive.read_value(key)
                    archive.write_value(key, current + value, timestamp)
            finally:
                archive.close()
            dead.unlink()
