"""One run at a time per OUTPUT, and what killed runs left beside it cleaned by the next.

A run holds an exclusive lock (flock) on `.OUTPUT.lock` beside OUTPUT from before it stages
until it has published; a second run on the same OUTPUT is refused, naming the lock, rather
than wait behind a job of hours. The kernel drops a lock when its holder dies, even by
SIGKILL, so whoever holds the lock knows that every `.OUTPUT.tmp-*` staging directory beside
OUTPUT belongs to a run that no longer lives: it is removed. A run killed while publishing
over an earlier output (`.OUTPUT.old-*` holds it, OUTPUT is gone) has that output put back.
Local file systems only: flock means nothing to HDFS or an object store.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scoring.errors import JobRefused
from scoring.outputs import LocalFiles

log = logging.getLogger(__name__)


def lock_path(output: Path) -> Path:
    return output.parent / f".{output.name}.lock"


@contextmanager
def output_lock(output: Path) -> Iterator[None]:
    """Hold OUTPUT's lock for the block, having removed what killed runs left; refuse the
    job if another run holds it."""
    if not output.parent.is_dir():
        raise JobRefused(f"the directory of output {output} does not exist")
    path = lock_path(output)
    handle = _acquire(path, output)
    try:
        clean_stale(output)
        yield
    finally:
        path.unlink(missing_ok=True)  # while still held: a waiting opener then finds it gone
        os.close(handle)


def _acquire(path: Path, output: Path) -> int:
    while True:
        try:
            handle = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise JobRefused(f"cannot create the lock {path}: {exc.strerror}") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            raise JobRefused(
                f"output {output} is being written by another run (it holds the lock {path})"
            ) from None
        # Its last holder may have removed the file between our open and our lock: the
        # lock counts only on the file that the name still gives.
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        mine = os.fstat(handle)
        if current is not None and (current.st_dev, current.st_ino) == (mine.st_dev, mine.st_ino):
            return handle
        os.close(handle)


def clean_stale(output: Path) -> list[Path]:
    """Remove the staging directories beside OUTPUT (the caller holds its lock, so their runs
    are dead); put back an earlier output a killed run had moved aside. What was removed."""
    stale = re.compile(rf"\.{re.escape(output.name)}\.(tmp|old)-[0-9a-f]{{12}}")
    found = [p for p in output.parent.iterdir() if stale.fullmatch(p.name)]
    removed = []
    files = LocalFiles()
    for path in sorted(found, key=lambda p: p.lstat().st_mtime, reverse=True):
        if path.name.startswith(f".{output.name}.old-") and not files.exists(str(output)):
            if files.is_output(str(path)):
                os.rename(path, output)
                log.warning("put back %s: a run was killed while replacing it", output)
                continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
        log.warning("removed %s, left by a run that was killed", path)
    return removed
