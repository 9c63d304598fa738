"""The labelled applicant table training works on, wherever it came from."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import numpy as np

from training.features import FEATURE_NAMES

SPLIT_FRACTIONS = (0.70, 0.15, 0.15)  # train, validation, test


@dataclass(frozen=True)
class Dataset:
    """Feature columns and labels; ground truth only when a generator made the rows."""

    features: dict[str, np.ndarray]
    risk_class: np.ndarray  # int64 index into CLASS_NAMES
    max_coverage: np.ndarray  # float64 dollars
    source: str  # "synthetic" or "csv"
    true_probabilities: np.ndarray | None = None
    expected_coverage: np.ndarray | None = None
    knocked_out: np.ndarray | None = None  # the generator's knock-outs (synthetic data only)
    # For the fairness report only (never a feature): a protected group column and its name,
    # and the face amount applied for when the data has it.
    groups: np.ndarray | None = None
    group_column: str | None = None
    face_amount: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.risk_class)

    @property
    def has_truth(self) -> bool:
        """Whether the Bayes-optimal comparison can be made."""
        return self.true_probabilities is not None and self.expected_coverage is not None

    def take(self, rows: np.ndarray) -> Dataset:
        """Return the subset at the given row indices."""
        return replace(
            self,
            features={name: values[rows] for name, values in self.features.items()},
            risk_class=self.risk_class[rows],
            max_coverage=self.max_coverage[rows],
            true_probabilities=None
            if self.true_probabilities is None
            else self.true_probabilities[rows],
            expected_coverage=None
            if self.expected_coverage is None
            else self.expected_coverage[rows],
            knocked_out=None if self.knocked_out is None else self.knocked_out[rows],
            groups=None if self.groups is None else self.groups[rows],
            face_amount=None if self.face_amount is None else self.face_amount[rows],
        )

    def fingerprint(self) -> str:
        """Return a sha256 over every feature column and label, in declaration order."""
        digest = hashlib.sha256()
        for name in FEATURE_NAMES:
            values = self.features[name]
            if values.dtype == object:
                digest.update("\x1f".join(values.tolist()).encode())
            else:
                digest.update(np.ascontiguousarray(values).tobytes())
        digest.update(np.ascontiguousarray(self.risk_class).tobytes())
        digest.update(np.ascontiguousarray(self.max_coverage).tobytes())
        return "sha256:" + digest.hexdigest()


def split(dataset: Dataset, seed: int) -> tuple[Dataset, Dataset, Dataset]:
    """Shuffle with the seed and cut into train, validation and test."""
    order = np.random.default_rng(seed).permutation(len(dataset))
    n_train = int(len(order) * SPLIT_FRACTIONS[0])
    n_validation = int(len(order) * SPLIT_FRACTIONS[1])
    return (
        dataset.take(order[:n_train]),
        dataset.take(order[n_train : n_train + n_validation]),
        dataset.take(order[n_train + n_validation :]),
    )
