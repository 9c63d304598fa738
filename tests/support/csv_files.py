"""A user's side of training: generated applicants written as a CSV, and the command run."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np

from training.features import CLASS_NAMES, FEATURE_NAMES
from training.synthetic import generate


def write_csv(
    path: Path, rows: int, seed: int = 3, group_column: str | None = None
) -> list[dict[str, str]]:
    """Write generated applicants as a user's CSV would hold them; return the rows.

    `group_column` adds the generator's protected group (and the face amount applied for)
    under that name, as an insurer's file with demographic data would.
    """
    sample = generate(rows, seed)
    records = []
    for i in range(rows):
        record = {}
        for name in FEATURE_NAMES:
            value = sample.features[name][i]
            record[name] = str(value).lower() if isinstance(value, np.bool_) else str(value)
        record["risk_class"] = CLASS_NAMES[sample.risk_class[i]]
        record["max_coverage"] = str(sample.max_coverage[i])
        if group_column:
            record[group_column] = str(sample.groups[i])
            record["face_amount"] = str(sample.face_amount[i])
        records.append(record)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    return records


def run_training(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m training` with these arguments, as a user would."""
    command = [sys.executable, "-m", "training", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
