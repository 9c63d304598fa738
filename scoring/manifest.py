"""The `_manifest.json` of a complete output: counts, models, input fingerprint, timings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from scoring.job import MANIFEST_FORMAT, REJECTS_DIR, SCORES_DIR, Job, Tally


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def manifest(
    job: Job,
    started_at: str,
    input_rows: int,
    tally: Tally,
    fingerprint: dict[str, Any],
    models: dict[str, dict[str, Any]],
    id_columns: tuple[str, ...],
    timings: dict[str, float],
) -> dict[str, Any]:
    """Everything a reader needs to trust and reproduce the output."""
    total = timings.get("total_seconds", 0.0)
    return {
        "format_version": MANIFEST_FORMAT,
        "status": "complete",
        "started_at": started_at,
        "finished_at": utc_now(),
        "command": ["python", "-m", "scoring", *job.argv],
        "input": {"path": job.input, "rows": input_rows, "fingerprint": fingerprint},
        "output": {
            "scores": SCORES_DIR,
            "rejects": REJECTS_DIR,
            "format": job.format,
            "rejects_format": job.rejects_format,
            "id_columns": list(id_columns),
        },
        "counts": tally.to_json(input_rows),
        "models": models,
        "options": job.options(),
        "timings": timings | {"rows_per_second": round(input_rows / total) if total else None},
    }


def summary(document: dict[str, Any], output: str) -> str:
    """The few lines printed when the job ends."""
    counts, timings = document["counts"], document["timings"]
    versions = ", ".join(f"{name} v{m['version']}" for name, m in document["models"].items())
    outcomes = ", ".join(f"{k} {v:,}" for k, v in counts["outcomes"].items()) or "none"
    lines = [
        f"scored {counts['scored']:,} of {counts['input']:,} rows; rejected {counts['rejected']:,}",
        f"outcomes: {outcomes}",
        f"models: {versions}",
        f"{timings['total_seconds']:.1f} s, {timings['rows_per_second'] or 0:,} rows/s",
        f"output: {output} (see _manifest.json)",
    ]
    if counts["rejected_by_field"]:
        worst = sorted(counts["rejected_by_field"].items(), key=lambda item: -item[1])[:5]
        named = ", ".join(f"{name} {count:,}" for name, count in worst)
        lines.insert(1, f"rejected rows by field: {named} (reasons in {REJECTS_DIR}/)")
    return "\n".join(lines)
