"""The LiteRT runtime: each artifact's `model.tflite`, run without TensorFlow.

Records arrive packed as the export takes them (float32 numbers, int32 category indices). Each
model keeps two interpreters: one sized once for single records, the common request, and one
resized for batches, because resizing costs more than a single record's whole inference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from contract.artifact import Artifact
from contract.errors import ContractError
from contract.explanations import ALPHAS_INPUT, DIFFERENCE_OUTPUT
from contract.features import Feature
from contract.metadata import ModelMetadata
from contract.packing import CATEGORIES_INPUT, NUMBERS_INPUT
from service.inference.packing import Batch, NumbersAndIndices, Packer
from service.inference.runtimes import Explain, Runner

_INPUTS = (NUMBERS_INPUT, CATEGORIES_INPUT)  # the order of Batch.arrays
_DTYPES = (np.float32, np.int32)


@dataclass
class _Sized:
    """One interpreter, its input and output tensor indices, and the batch size it is set for."""

    interpreter: Interpreter
    inputs: tuple[int, ...]
    outputs: dict[str, int]
    rows: int = field(default=-1)

    def run(self, arrays: tuple[np.ndarray, ...], rows: int) -> dict[str, np.ndarray]:
        if rows != self.rows:
            for index, array in zip(self.inputs, arrays, strict=True):
                self.interpreter.resize_tensor_input(index, array.shape, strict=False)
            self.interpreter.allocate_tensors()
            self.rows = rows
        for index, array in zip(self.inputs, arrays, strict=True):
            self.interpreter.set_tensor(index, array)
        self.interpreter.invoke()
        return {name: self.interpreter.get_tensor(index) for name, index in self.outputs.items()}


@dataclass
class _Explaining:
    """The explain interpreter, resized only when the batch or the path's length changes."""

    interpreter: Interpreter
    inputs: tuple[int, ...]  # numbers, categories, alphas
    outputs: dict[str, int]
    shape: tuple[int, int] = field(default=(-1, -1))

    def run(self, batch: Batch, alphas: np.ndarray) -> dict[str, np.ndarray]:
        arrays = (*batch.arrays, alphas)
        if (batch.size, len(alphas)) != self.shape:
            for index, array in zip(self.inputs, arrays, strict=True):
                self.interpreter.resize_tensor_input(index, array.shape, strict=False)
            self.interpreter.allocate_tensors()
            self.shape = (batch.size, len(alphas))
        for index, array in zip(self.inputs, arrays, strict=True):
            self.interpreter.set_tensor(index, array)
        self.interpreter.invoke()
        return {name: self.interpreter.get_tensor(index) for name, index in self.outputs.items()}


@dataclass(frozen=True)
class _Loaded:
    """A model's two interpreters: for single records and for batches."""

    single: _Sized
    batch: _Sized

    def run(self, batch: Batch) -> dict[str, np.ndarray]:
        sized = self.single if batch.size == 1 else self.batch
        return sized.run(batch.arrays, batch.size)


class LiteRT:
    """Runs the LiteRT export of each model (TensorFlow Lite's runtime, built-in ops only)."""

    name = "litert"
    platform = "litert_tflite"

    def __init__(self, threads: int) -> None:
        self.threads = threads

    def packer(self, features: tuple[Feature, ...]) -> Packer:
        return NumbersAndIndices.of(features)

    def load(self, artifact: Artifact) -> Any:
        """Open the export twice; check its signature against the declaration."""
        metadata = artifact.metadata
        if metadata.litert is None:
            raise ContractError(f"{artifact.name} v{artifact.version} has no LiteRT export")
        path = str(artifact.path / metadata.litert.path)
        return _Loaded(self._open(path, metadata, rows=1), self._open(path, metadata, rows=-1))

    def _open(self, path: str, metadata: ModelMetadata, rows: int) -> _Sized:
        assert metadata.litert is not None
        try:
            interpreter = Interpreter(model_path=path, num_threads=self.threads)
            inputs, outputs = _signature_details(interpreter, metadata.litert.signature)
        except (ValueError, RuntimeError) as exc:
            raise ContractError(f"unreadable LiteRT export: {exc}") from None
        _check_signature(inputs, outputs, metadata)
        sized = _Sized(
            interpreter,
            tuple(int(inputs[name]["index"]) for name in _INPUTS),
            {name: int(detail["index"]) for name, detail in outputs.items()},
        )
        if rows > 0:  # size it once, now
            widths = [int(inputs[name]["shape_signature"][1]) for name in _INPUTS]
            empty = (np.zeros((rows, w), d) for w, d in zip(widths, _DTYPES, strict=True))
            sized.run(tuple(empty), rows)
        return sized

    def explainer(self, artifact: Artifact, network: Any, packer: Packer) -> Explain | None:
        """Open the explain export (its own file) behind its signature runner."""
        explain = artifact.metadata.explain
        if explain is None:
            return None
        try:
            interpreter = Interpreter(
                model_path=str(artifact.path / explain.litert), num_threads=self.threads
            )
            inputs, outputs = _signature_details(interpreter, explain.signature)
        except (ValueError, RuntimeError) as exc:
            raise ContractError(f"unreadable explain export: {exc}") from None
        expected = {*explain.targets, DIFFERENCE_OUTPUT}
        if set(inputs) != {*_INPUTS, ALPHAS_INPUT} or set(outputs) != expected:
            raise ContractError(
                f"explain export takes {sorted(inputs)} and gives {sorted(outputs)}; "
                f"declared: {sorted(expected)}"
            )
        width = len(explain.features)
        if any(int(outputs[t]["shape_signature"][-1]) != width for t in explain.targets):
            raise ContractError(f"explain attributions are not {width} features wide")
        # Its own file holds one signature, the interpreter's primary subgraph: called through
        # tensor indices, as serving is, not the signature runner (~30 us less per call).
        explaining = _Explaining(
            interpreter,
            tuple(int(inputs[name]["index"]) for name in (*_INPUTS, ALPHAS_INPUT)),
            {name: int(detail["index"]) for name, detail in outputs.items()},
        )
        return explaining.run

    def compile(self, packer: Packer, networks: Sequence[Any], probe: Batch) -> Runner:
        """Run every model's interpreter on the same packed arrays; merge their outputs."""
        loaded = tuple(networks)

        def run(batch: Batch) -> dict[str, np.ndarray]:
            outputs: dict[str, np.ndarray] = {}
            for network in loaded:
                outputs |= network.run(batch)
            return outputs

        return run


def _signature_details(
    interpreter: Interpreter, signature: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a signature's input and output tensors by name.

    The signature runner is dropped before returning: while it lives, the interpreter refuses
    to resize its tensors (it counts the runner as a reference to its buffers).
    """
    runner = interpreter.get_signature_runner(signature)
    return runner.get_input_details(), runner.get_output_details()


def _check_signature(
    inputs: dict[str, Any], outputs: dict[str, Any], metadata: ModelMetadata
) -> None:
    """Refuse an export whose inputs or outputs differ from what the declaration says."""
    assert metadata.litert is not None
    widths = {
        NUMBERS_INPUT: len(metadata.litert.numbers),
        CATEGORIES_INPUT: len(metadata.litert.categories),
    }
    found = {name: int(d["shape_signature"][-1]) for name, d in inputs.items()}
    if found != widths:
        raise ContractError(f"LiteRT inputs {found} do not pack the declared features {widths}")
    kinds = tuple(np.dtype(inputs[name]["dtype"]) for name in _INPUTS)
    if kinds != tuple(np.dtype(d) for d in _DTYPES):
        raise ContractError(f"LiteRT inputs are {kinds}, not float32 numbers and int32 indices")
    dtypes = {name: np.dtype(d["dtype"]).name for name, d in outputs.items()}
    declared = {o.name: o.dtype for o in metadata.outputs}
    if dtypes != declared:
        differ = sorted(set(dtypes.items()) ^ set(declared.items()))
        raise ContractError(f"LiteRT outputs do not match the declared outputs: {differ}")
