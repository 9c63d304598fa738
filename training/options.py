"""What a training run is asked to do (kept free of heavy imports so --help is instant)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_ROWS = 300_000
DEFAULT_SEED = 42
DEFAULT_EPOCHS = 60
# How strongly the synthetic protected group follows health risk: mildly by default, as real
# demographics correlate with health; 1.0 and more builds in a disparity the report must flag.
DEFAULT_GROUP_DISPARITY = 0.15


@dataclass(frozen=True)
class TrainingOptions:
    """The command line's choices."""

    models_dir: Path
    data: Path | None = None
    rows: int = DEFAULT_ROWS
    seed: int = DEFAULT_SEED
    epochs: int = DEFAULT_EPOCHS
    fairness_column: str | None = None  # a CSV column of protected groups, for the report only
    group_disparity: float = DEFAULT_GROUP_DISPARITY
    owner: str | None = None  # who answers for the models (the model card)
    validation_date: str | None = None  # ISO date of their independent validation, if done
    publish_anyway: bool = False  # publish a pair that failed the gate (recorded in its metadata)
    set_aside: Path | None = None  # where a refused pair goes (default: beside models_dir)

    @property
    def set_aside_dir(self) -> Path:
        """The repository a pair that failed the gate is published into instead: never served."""
        return self.set_aside or set_aside_for(self.models_dir)


def set_aside_for(models_dir: Path) -> Path:
    """`models` -> `models-set-aside`, beside it (inside it, the service would look at it)."""
    resolved = models_dir.resolve()
    return resolved.parent / f"{resolved.name}-set-aside"
