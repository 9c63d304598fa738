"""The local engine: one process streams the input through the scorer, batch by batch.

Memory holds one batch (its input, packed arrays and outputs) whatever the input's size; the
Parquet reader reads a row group at a time, so an input's row groups bound it too.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from scoring import scorer as scoring
from scoring.checking import plan_columns
from scoring.errors import JobFailed
from scoring.inputs import Input, batches, schema_of, total_rows
from scoring.job import REJECTS_DIR, SCORES_DIR, Job, Tally
from scoring.manifest import manifest, utc_now
from scoring.outputs import PartWriter, WriteBehind, publish, refuse_existing, write_manifest
from scoring.progress import Progress
from service.inference.loader import REQUEST_FIELDS

PART = "part-00000"


def run_local(job: Job) -> dict[str, object]:
    """Score the whole input into OUTPUT; return the manifest written with it."""
    started_at, start = utc_now(), time.perf_counter()
    output = Path(job.output)
    refuse_existing(output, job.overwrite)
    source = Input.at(job.input)
    versions = scoring.resolve_versions(job.models)
    servable = scoring.load(job.models, versions)
    loaded = time.perf_counter()
    schema = schema_of(source, REQUEST_FIELDS + servable.features)
    plan = plan_columns(schema, servable.features, REQUEST_FIELDS, servable.validator,
                        job.id_columns)  # fmt: skip
    scorer = scoring.Scorer(servable, plan, job.explain)
    staging = output.with_name(f".{output.name}.tmp-{time.time_ns()}")
    staging.mkdir()
    try:
        tally = _score_all(job, source, scorer, staging)
        scored = time.perf_counter()
        fingerprint = source.fingerprint()
        timings = {
            "load_models_seconds": round(loaded - start, 3),
            "scoring_seconds": round(scored - loaded, 3),
            "fingerprint_seconds": round(time.perf_counter() - scored, 3),
            "total_seconds": round(time.perf_counter() - start, 3),
        }
        document = manifest(job, started_at, tally.rows, tally, fingerprint,
                            scoring.model_digests(job.models, versions), plan.id_columns,
                            timings)  # fmt: skip
        write_manifest(staging, document)
        publish(staging, output)
        return document
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _score_all(job: Job, source: Input, scorer: scoring.Scorer, staging: Path) -> Tally:
    tally = Tally()
    writer = WriteBehind([
        PartWriter(staging / SCORES_DIR / PART, scorer.scores_schema, job.format),
        PartWriter(staging / REJECTS_DIR / PART, scorer.rejects_schema, job.format),
    ])  # fmt: skip
    expected = total_rows(source)
    progress = Progress(expected, job.progress)
    try:
        for batch in batches(source, scorer.plan.input_schema, job.batch_rows):
            scored, rejected = scorer.score(batch)
            if rejected.num_rows and job.on_invalid == "fail":
                raise JobFailed(f"{tally.rows + batch.num_rows:,} rows read, a row is invalid "
                                f"(--on-invalid fail): {rejected.column(-1)[0]}")  # fmt: skip
            writer.put(scored, rejected)
            tally.add_scores(scored)
            tally.add_rejects(rejected)
            progress.update(tally.rows)
    finally:
        progress.finish()
        writer.close()
    if expected is not None and tally.rows != expected:  # nothing dropped silently
        raise JobFailed(f"read {tally.rows:,} rows of the {expected:,} the input holds")
    return tally
