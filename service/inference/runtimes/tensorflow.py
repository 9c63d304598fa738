"""The TensorFlow runtime: the SavedModel signatures, fused into one compiled function.

TensorFlow is imported when the first model loads (after gunicorn's fork), configured for
serving: quiet logs, no oneDNN, few threads. One call per request, whatever the number of
models: the composite `underwriting` runs both signatures in one graph (about one model's cost).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from contract.artifact import Artifact
from contract.errors import ContractError
from contract.features import Feature
from contract.metadata import ModelMetadata
from service.inference.packing import Batch, DtypeGroups, Packer
from service.inference.runtimes import Explain, Runner

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


@dataclass(frozen=True)
class _Loaded:
    """A serving signature, and the loaded SavedModel whose variables it reads."""

    signature: Any
    root: Any


class TensorFlow:
    """Runs the SavedModel's serving signature on raw columns packed by dtype."""

    name = "tensorflow"
    platform = "tensorflow_savedmodel"

    def __init__(self, threads: int) -> None:
        self.threads = threads

    def packer(self, features: tuple[Feature, ...]) -> Packer:
        return DtypeGroups.of(features)

    def load(self, artifact: Artifact) -> Any:
        """Load the SavedModel; check its signature against the declaration."""
        tf = tensorflow(self.threads)
        metadata = artifact.metadata
        root = tf.saved_model.load(str(artifact.signature_path))
        if metadata.signature.name not in root.signatures:
            raise ContractError(f"SavedModel has no signature {metadata.signature.name!r}")
        signature = root.signatures[metadata.signature.name]
        _check_signature(signature, metadata)
        return _Loaded(signature, root)

    def compile(self, packer: Packer, networks: Sequence[Any], probe: Batch) -> Runner:
        """Trace the fused function once; return the fastest call that gives identical outputs."""
        assert isinstance(packer, DtypeGroups)
        tf = tensorflow()
        specs = [
            tf.TensorSpec([None, len(names)], tf.dtypes.as_dtype(dtype), name=dtype)
            for dtype, names in packer.groups
        ]

        def fused(*packed: Any) -> dict[str, Any]:
            columns: dict[str, Any] = {}
            for (_, names), group in zip(packer.groups, packed, strict=True):
                # One Unpack op per group; a slice per feature would add 23 ops to every call.
                columns |= dict(zip(names, tf.unstack(group, num=len(names), axis=1), strict=True))
            outputs: dict[str, Any] = {}
            for network in networks:
                outputs |= network.signature(**columns)
            return outputs

        function = tf.function(fused, input_signature=specs, autograph=False)
        return _fastest(tf, function.get_concrete_function(), probe)

    def explainer(self, artifact: Artifact, network: Any, packer: Packer) -> Explain | None:
        """The SavedModel's explain signature, over the batch's columns."""
        explain = artifact.metadata.explain
        if explain is None:
            return None
        assert isinstance(packer, DtypeGroups) and isinstance(network, _Loaded)
        if explain.signature not in network.root.signatures:
            raise ContractError(f"SavedModel has no signature {explain.signature!r}")
        signature = network.root.signatures[explain.signature]
        tf = tensorflow()

        def run(batch: Batch, alphas: np.ndarray) -> dict[str, np.ndarray]:
            columns = {
                name: tf.constant(group[:, j])
                for (_, names), group in zip(packer.groups, batch.arrays, strict=True)
                for j, name in enumerate(names)
            }
            outputs = signature(**columns, alphas=tf.constant(alphas))
            return {name: value.numpy() for name, value in outputs.items()}

        return run


def _check_signature(signature: Any, metadata: ModelMetadata) -> None:
    """Refuse a signature whose inputs or outputs differ from the declared ones and dtypes."""
    _, specs = signature.structured_input_signature
    inputs = {name: spec.dtype.name for name, spec in specs.items()}
    if inputs != dict(metadata.signature.inputs):
        differ = sorted(set(inputs.items()) ^ set(metadata.signature.inputs.items()))
        raise ContractError(f"signature inputs do not match the declared features: {differ}")
    outputs = {name: spec.dtype.name for name, spec in signature.structured_outputs.items()}
    declared = {o.name: o.dtype for o in metadata.outputs}
    if outputs != declared:
        differ = sorted(set(outputs.items()) ^ set(declared.items()))
        raise ContractError(f"signature outputs do not match the declared outputs: {differ}")


def _fastest(tf: Any, function: Any, probe: Batch) -> Runner:
    """Prefer the flat call, which skips binding arguments in Python (~0.1 ms per call).

    `_call_flat` is private, so it is used only if it exists and agrees with the public call.
    """

    def public(batch: Batch) -> dict[str, np.ndarray]:
        outputs = function(*[tf.constant(a) for a in batch.arrays])
        return {name: value.numpy() for name, value in outputs.items()}

    def flat(batch: Batch) -> dict[str, np.ndarray]:
        tensors = [tf.constant(a) for a in batch.arrays]
        outputs = function._call_flat(tensors, function.captured_inputs)
        return {name: value.numpy() for name, value in outputs.items()}

    expected = public(probe)
    try:
        actual = flat(probe)
    except (AttributeError, TypeError, ValueError, tf.errors.OpError):
        return public
    same = actual.keys() == expected.keys() and all(
        np.array_equal(actual[k], expected[k]) for k in expected
    )
    return flat if same else public
