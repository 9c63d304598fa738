"""Drift: live records binned like the training reference, over a sliding window per worker.

Each servable's features and outputs are binned exactly as its artifacts' reference
distributions (contract.reference): numbers by the training deciles, categories and booleans
one bin per value. A worker keeps the bin counts of its last `capacity` records (in blocks,
see DriftWindow) in a small file beside prometheus_client's (PROMETHEUS_MULTIPROC_DIR), one
writer per file; a scrape on any worker sums the files of every live worker, so the population
stability index is over the union of the workers' windows whichever worker answers the scrape.

The hot path is a few vectorised NumPy operations per request, whatever its size: one
comparison of every packed value (numbers, outputs, category indices) against a padded edge
matrix, then one count update.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from contract.packing import PackedLayout
from contract.reference import Binned
from service.inference.servable import Servable

log = logging.getLogger(__name__)

FILE_PREFIX = "drift-"  # gunicorn_config removes these at start and a dead worker's at exit
FILE_SUFFIX = ".counts"
BOOLEAN_VALUES = ("false", "true")


@dataclass(frozen=True)
class Variable:
    """One binned variable: a feature, or an output (`probabilities.decline`, `max_coverage`)."""

    name: str
    kind: str  # "feature" or "output"
    binned: Binned


class MissingReference(ValueError):
    """A model of the servable has no reference distribution for a variable (an old artifact)."""


class DriftLayout:
    """Where each variable of a servable's records falls: one flat array of every bin.

    Variables are ordered as the packed numbers (features, then outputs) then the categories;
    bins are numbered globally (variable i's bins start at `offsets[i]`).
    """

    def __init__(self, servable: Servable) -> None:
        model = servable.models[0]
        layout = PackedLayout.of(servable.features)
        numbers = [_feature(model.metadata.reference, name) for name in layout.numbers]
        outputs: list[tuple[Variable, str]] = []  # each output's columns, in label order
        for served in servable.models:
            for spec in served.metadata.outputs:
                for label in spec.labels or (None,):
                    name = spec.name if label is None else f"{spec.name}.{label}"
                    binned = served.metadata.reference.get(name)
                    if binned is None or binned.edges is None:
                        raise MissingReference(f"{served.name} v{served.version}: {name}")
                    outputs.append((Variable(name, "output", binned), spec.name))
        categories = [_feature(model.metadata.reference, name) for name, _ in layout.categories]
        self.name = servable.name
        self.variables = (*numbers, *(v for v, _ in outputs), *categories)
        # Each output's columns follow one another: one array per source in the concatenation.
        self.output_sources = tuple(dict.fromkeys(source for _, source in outputs))
        sizes = np.asarray([len(v.binned.proportions) for v in self.variables])
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.total = int(self.offsets[-1])
        numeric = [v.binned for v in self.variables[: len(numbers) + len(outputs)]]
        self.edges = _edge_matrix(numeric, [len(vocabulary) for _, vocabulary in layout.categories])
        self.variable_offsets = self.offsets[:-1].astype(np.intp)
        self.category_order, self.category_base = _category_order(layout.categories, categories)
        described = [(v.name, v.kind, v.binned.to_json()) for v in self.variables]
        digest = hashlib.sha256(json.dumps([self.name, described]).encode()).hexdigest()
        self.fingerprint = digest[:16]

    def bins(
        self, numbers: np.ndarray, categories: np.ndarray, outputs: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        """The global bin of every variable of every record: intp [N, variables]."""
        size = len(numbers)
        if self.category_order is not None:  # reference values in another order than declared
            categories = self.category_order[categories + self.category_base]
        values = np.concatenate(
            [numbers]
            + [outputs[source].reshape(size, -1) for source in self.output_sources]
            + [categories],
            axis=1,
        )
        # The first edge not below the value (every row ends in +inf) = the edges below it:
        # searchsorted(side="left") for every variable at once.
        found = (values[:, :, None] > self.edges).argmin(axis=2)
        found += self.variable_offsets
        return found

    def psi(self, counts: np.ndarray) -> Iterator[tuple[Variable, float]]:
        """Each variable's population stability index of `counts` against its reference."""
        for i, variable in enumerate(self.variables):
            yield variable, variable.binned.psi(counts[self.offsets[i] : self.offsets[i + 1]])

    def records(self, counts: np.ndarray) -> int:
        """How many records `counts` hold (every record falls in one bin of each variable)."""
        return int(counts[self.offsets[0] : self.offsets[1]].sum())


def _feature(reference: Mapping[str, Binned], name: str) -> Variable:
    binned = reference.get(name)
    if binned is None:
        raise MissingReference(name)
    return Variable(name, "feature", binned)


def _edge_matrix(binned: list[Binned], categories: list[int]) -> np.ndarray:
    """One row of float32 edges per variable, padded with +inf (never below a value).

    Every row ends in at least one +inf. Numbers are compared in float32, the type the packed
    values travel as, so a value equal to an edge in the request stays in the edge's own bin.
    A boolean's two bins split at 0.5; a category index at every half (index i: bin i).
    """
    rows: list[tuple[float, ...]] = []
    for b in binned:
        if b.edges is not None:
            rows.append(b.edges)
        elif b.values == BOOLEAN_VALUES:
            rows.append((0.5,))
        else:
            raise MissingReference(f"a numeric column binned by values {b.values}")
    rows += [tuple(i + 0.5 for i in range(count - 1)) for count in categories]
    width = max((len(r) for r in rows), default=0) + 1
    matrix = np.full((len(rows), width), np.inf, dtype=np.float32)
    for i, row in enumerate(rows):
        matrix[i, : len(row)] = np.asarray(row, dtype=np.float32)
    return matrix


def _category_order(
    declared: tuple[tuple[str, tuple[str, ...]], ...], variables: list[Variable]
) -> tuple[np.ndarray | None, np.ndarray]:
    """A lookup from (category column, declared index) to the value's place in its reference.

    None when every reference lists its values in declared order (the index is the place).
    """
    table: list[int] = []
    base = []
    in_order = True
    for (name, vocabulary), variable in zip(declared, variables, strict=True):
        values = variable.binned.values or ()
        if set(values) != set(vocabulary):
            raise MissingReference(f"{name}: reference values {values} are not {vocabulary}")
        in_order = in_order and tuple(values) == tuple(vocabulary)
        base.append(len(table))
        table.extend(values.index(value) for value in vocabulary)
    lookup = None if in_order else np.asarray(table, dtype=np.int32)
    return lookup, np.asarray(base, dtype=np.int32)


class DriftWindow:
    """Bin counts of the latest `capacity` records, kept in BLOCKS blocks of records.

    A record adds one to its bins in the current block; when the block is full, the oldest
    block is emptied and becomes the current one. The window so holds the latest records from
    (BLOCKS - 1) full blocks up to BLOCKS blocks (capacity rounded up to whole blocks), for one
    increment per record (no per-record ring).
    """

    BLOCKS = 10

    def __init__(self, layout: DriftLayout, capacity: int, blocks: np.ndarray) -> None:
        self.layout = layout
        self.block_size = -(-capacity // self.BLOCKS)
        self.blocks = blocks  # int64 [BLOCKS, layout.total], shared with scrapes by its file
        self.current = 0
        self.in_block = 0
        self._row = blocks[0]

    @property
    def counts(self) -> np.ndarray:
        """The window's count per bin."""
        return np.asarray(self.blocks.sum(axis=0))

    def add(self, bins: np.ndarray) -> None:
        """Count `bins` (intp [N, variables]), dropping the oldest block whenever one fills."""
        if len(bins) == 1:  # the common request: one increment (a record's bins are distinct)
            self._row[bins[0]] += 1
            self.in_block += 1
            if self.in_block == self.block_size:
                self._roll()
            return
        spare = len(bins) - self.BLOCKS * self.block_size
        if spare > 0:  # records every block would drop again: skip whole blocks of them
            bins = bins[spare // self.block_size * self.block_size :]
        start = 0
        while start < len(bins):
            part = bins[start : start + self.block_size - self.in_block]
            self._row += np.bincount(part.ravel(), minlength=self.layout.total)
            self.in_block += len(part)
            start += len(part)
            if self.in_block == self.block_size:
                self._roll()

    def _roll(self) -> None:
        self.current = (self.current + 1) % self.BLOCKS
        self._row = self.blocks[self.current]
        self._row[:] = 0
        self.in_block = 0


@dataclass
class _Tracked:
    servable: Servable  # the snapshot the layout was built for (a swap builds a new one)
    layout: DriftLayout | None
    window: DriftWindow | None = None
    path: Path | None = None


class DriftMonitor:
    """Every servable's window in this worker, and the merged counts of all workers' windows."""

    def __init__(self, directory: Path | None, capacity: int, prefix: str = FILE_PREFIX) -> None:
        self.directory = directory  # None: one process, counts kept in memory only
        self.capacity = capacity
        self.prefix = prefix  # its files' names start so (gunicorn_config knows the prefixes)
        self._tracked: dict[str, _Tracked] = {}

    def observe(
        self,
        servable: Servable,
        numbers: np.ndarray,
        categories: np.ndarray,
        outputs: Mapping[str, np.ndarray],
    ) -> None:
        """Add a scored batch (packed inputs, declared outputs) to the servable's window."""
        window = self._window(servable)
        if window is not None:
            window.add(window.layout.bins(numbers, categories, outputs))

    def layout(self, servable: Servable) -> DriftLayout | None:
        """The servable's layout (None: an artifact without reference distributions)."""
        return self._track(servable).layout

    def add(self, servable: Servable, bins: np.ndarray) -> None:
        """Add bins already computed with the servable's layout to its window."""
        window = self._window(servable)
        if window is not None:
            window.add(bins)

    def _window(self, servable: Servable) -> DriftWindow | None:
        """The servable's window, opened on first use (None: no reference to compare with)."""
        tracked = self._tracked.get(servable.name)
        if tracked is None or tracked.servable is not servable:
            tracked = self._track(servable)
        if tracked.layout is None:
            return None
        if tracked.window is None:
            tracked.window = self._open_window(tracked)
        return tracked.window

    def forget(self, name: str) -> None:
        """Drop a servable's window (its file too): counting starts again."""
        tracked = self._tracked.pop(name, None)
        if tracked is not None:
            self._close(tracked)

    def merged(self, serving: Mapping[str, object]) -> Iterator[tuple[DriftLayout, np.ndarray]]:
        """Each serving servable's layout and its bin counts summed over every worker's window.

        Windows built against another reference (a worker still on the previous version during
        a rollout) have another fingerprint and are left out.
        """
        names = os.listdir(self.directory) if self.directory is not None else []
        for name, servable in serving.items():
            if not isinstance(servable, Servable):
                continue
            layout = self._track(servable).layout
            if layout is None:
                continue
            if self.directory is None:
                window = self._tracked[name].window
                counts = window.counts if window else np.zeros(layout.total, np.int64)
            else:
                counts = self._read(layout, names)
            yield layout, counts

    def _track(self, servable: Servable) -> _Tracked:
        tracked = self._tracked.get(servable.name)
        if tracked is not None and tracked.servable is servable:
            return tracked
        layout = _layout_of(servable)
        if tracked is not None and _same(tracked.layout, layout):
            tracked.servable = servable  # e.g. a new policy: the same reference, keep counting
            return tracked
        if tracked is not None:
            self._close(tracked)
        tracked = _Tracked(servable, layout)
        self._tracked[servable.name] = tracked
        return tracked

    def _open_window(self, tracked: _Tracked) -> DriftWindow:
        layout = tracked.layout
        assert layout is not None
        shape = (DriftWindow.BLOCKS, layout.total)
        if self.directory is None:
            return DriftWindow(layout, self.capacity, np.zeros(shape, dtype=np.int64))
        path = self.directory / f"{self._stem(layout)}{os.getpid()}{FILE_SUFFIX}"
        np.zeros(shape, dtype=np.int64).tofile(path)
        mapped = np.memmap(path, dtype=np.int64, mode="r+", shape=shape)
        tracked.path = path
        # A plain view of the mapping: np.memmap's subclass hooks cost more than the update.
        return DriftWindow(layout, self.capacity, mapped.view(np.ndarray))

    def _close(self, tracked: _Tracked) -> None:
        if tracked.path is not None:
            tracked.path.unlink(missing_ok=True)

    def _stem(self, layout: DriftLayout) -> str:
        return f"{self.prefix}{layout.name}-{layout.fingerprint}-"

    def _read(self, layout: DriftLayout, names: list[str]) -> np.ndarray:
        assert self.directory is not None
        stem = self._stem(layout)
        total = np.zeros(layout.total, dtype=np.int64)
        for name in names:
            if not (name.startswith(stem) and name.endswith(FILE_SUFFIX)):
                continue
            try:
                counts = np.fromfile(self.directory / name, dtype=np.int64)
            except OSError:  # its worker exited between the listing and the read
                continue
            if len(counts) == DriftWindow.BLOCKS * layout.total:
                total += counts.reshape(DriftWindow.BLOCKS, layout.total).sum(axis=0)
        return total


def _layout_of(servable: Servable) -> DriftLayout | None:
    try:
        return DriftLayout(servable)
    except MissingReference as exc:
        log.warning(
            "no drift monitoring for %s: no reference distribution for %s", servable.name, exc
        )
        return None


def _same(a: DriftLayout | None, b: DriftLayout | None) -> bool:
    return a is not None and b is not None and a.fingerprint == b.fingerprint
