"""Folding a dead worker's metric files: the sums stay, the files go, the master never fails."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from prometheus_client.mmap_dict import MmapedDict, mmap_key

from service.observability import compaction


def write(path: Path, values: dict[str, float]) -> None:
    files = MmapedDict(str(path))
    for label, value in values.items():
        key = mmap_key("c_total", "c_total", ["l"], [label], "help")
        files.write_value(key, value, 0.0)
    files.close()


def read(path: Path) -> dict[str, float]:
    return {key: value for key, value, _, _ in MmapedDict.read_all_values_from_file(str(path))}


def test_dead_workers_fold_into_one_archive_keeping_every_count(tmp_path: Path) -> None:
    write(tmp_path / "counter_101.db", {"a": 2.0, "b": 1.0})
    write(tmp_path / "counter_102.db", {"a": 3.0})
    write(tmp_path / "counter_103.db", {"a": 7.0})  # a live worker: left alone
    compaction.fold_dead_worker(tmp_path, 101)
    compaction.fold_dead_worker(tmp_path, 102)
    archive = read(tmp_path / "counter_archive.db")
    assert sorted(archive.values()) == [1.0, 5.0]
    assert sorted(p.name for p in tmp_path.glob("*.db")) == ["counter_103.db", "counter_archive.db"]


def test_a_torn_file_or_a_held_lock_never_raises_and_loses_nothing(tmp_path: Path) -> None:
    (tmp_path / "counter_201.db").write_bytes(b"\0\0")  # a worker killed mid-creation
    compaction.fold_dead_worker(tmp_path, 201)  # logged, not raised: the master lives on
    assert (tmp_path / "counter_201.db").exists()  # left as it was
    write(tmp_path / "counter_202.db", {"a": 4.0})
    descriptor = os.open(tmp_path / compaction.LOCK_FILE, os.O_CREAT | os.O_RDONLY)
    fcntl.flock(descriptor, fcntl.LOCK_SH)  # a scrape reading, for longer than the master waits
    try:
        compaction.fold_dead_worker(tmp_path, 202)
        assert (tmp_path / "counter_202.db").exists()  # not folded: still counted by scrapes
    finally:
        os.close(descriptor)
    write(tmp_path / "counter_203.db", {"a": 1.0})
    compaction.fold_dead_worker(tmp_path, 203)  # the next exit folds the one left before
    assert not (tmp_path / "counter_202.db").exists()
    assert sorted(read(tmp_path / "counter_archive.db").values()) == [5.0]
