"""What a training run is asked to do (kept free of heavy imports so --help is instant)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_ROWS = 300_000
DEFAULT_SEED = 42
DEFAULT_EPOCHS = 60


@dataclass(frozen=True)
class TrainingOptions:
    """The command line's choices."""

    models_dir: Path
    data: Path | None = None
    rows: int = DEFAULT_ROWS
    seed: int = DEFAULT_SEED
    epochs: int = DEFAULT_EPOCHS
