"""Model runtimes: what loads a version's network and scores a packed batch with it.

`litert` (the default) runs each artifact's LiteRT export and never imports TensorFlow;
`tensorflow` runs the SavedModel signatures in one compiled TensorFlow function.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from contract.artifact import Artifact
from contract.features import Feature
from service.inference.packing import Batch, Packer

Runner = Callable[[Batch], dict[str, np.ndarray]]
# A model's explain signature: (packed batch, the path's points) -> attributions and differences.
Explain = Callable[[Batch, np.ndarray], dict[str, np.ndarray]]


class Runtime(Protocol):
    """Loads networks and compiles the one call that scores a batch with one or more of them."""

    name: str
    platform: str  # what V2 model metadata says runs the model: the runtime and its format

    def packer(self, features: tuple[Feature, ...]) -> Packer:
        """How records must be packed for this runtime's model call."""

    def load(self, artifact: Artifact) -> Any:
        """Load one verified version's network (refuse it by raising ContractError)."""

    def compile(self, packer: Packer, networks: Sequence[Any], probe: Batch) -> Runner:
        """Return the function that scores a packed batch with all the networks at once."""

    def explainer(self, artifact: Artifact, network: Any, packer: Packer) -> Explain | None:
        """Load the version's explain signature, if it declares one (refuse: ContractError)."""


def runtime_named(name: str, threads: int) -> Runtime:
    """Return the runtime a setting names; each imports its library only when chosen."""
    if name == "litert":
        from service.inference.runtimes.litert import LiteRT

        return LiteRT(threads)
    if name == "tensorflow":
        from service.inference.runtimes.tensorflow import TensorFlow

        return TensorFlow(threads)
    raise ValueError(f"unknown runtime {name!r}")
