"""The Spark engine: the local engine's scorer in every Python worker, over Arrow batches.

The driver resolves the model versions, checks the input's columns against the declaration and
loads the models once itself (refusing a job before any executor starts). The chosen versions
are shipped with the job (SparkContext.addFile); each Python worker loads them once from its
copy (a loaded model cannot be pickled) and scores every Arrow batch Spark hands it
(`mapInArrow`, at most --batch-rows rows each). Two passes over the input write the rejects
(checks only) and the scores; OUTPUT is staged and renamed through Hadoop's file system, so
the same command writes to a local disk, HDFS or an object store.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
from py4j.protocol import Py4JError
from pyspark import SparkFiles
from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema
from pyspark.sql.types import StringType, StructField, StructType

from scoring import scorer as scoring
from scoring.checking import REASONS_COLUMN, ColumnPlan, plan_columns
from scoring.errors import JobFailed, JobRefused, JobStopped
from scoring.inputs import SUFFIXES, Input, InputFormat, total_rows
from scoring.job import MANIFEST_FILE, REJECTS_DIR, SCORES_DIR, Job, Tally
from scoring.locking import output_lock
from scoring.manifest import manifest, utc_now
from scoring.outputs import hidden_sibling, manifest_bytes, publish, refuse_unsafe
from scoring.stopping import check_stop, on_stop, reclaim_sigint
from service.inference.loader import REQUEST_FIELDS

APP_NAME = "underwriting-scoring"


@dataclass(frozen=True)
class WorkerSpec:
    """What a Python worker needs to build its scorer: plain, picklable values only."""

    shipped: str  # the models' directory name among the job's files (SparkFiles)
    versions: tuple[tuple[str, int], ...]
    runtime: str
    threads: int
    plan: ColumnPlan
    explain: bool
    scores_schema: pa.Schema
    rejects_schema: pa.Schema


_SCORERS: dict[WorkerSpec, scoring.Scorer] = {}  # per Python worker process: loaded once


def _scorer(spec: WorkerSpec) -> scoring.Scorer:
    scorer = _SCORERS.get(spec)
    if scorer is None:
        choice = scoring.ModelChoice(SparkFiles.get(spec.shipped), (), spec.runtime, spec.threads)
        servable = scoring.load(choice, dict(spec.versions))
        scorer = _SCORERS[spec] = scoring.Scorer(servable, spec.plan, spec.explain)
    return scorer


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """A batch in exactly the Arrow types Spark declared for the output (string widths)."""
    if batch.schema.equals(schema):
        return batch
    return pa.Table.from_batches([batch]).cast(schema).combine_chunks().to_batches()[0]


def map_batches(
    spec: WorkerSpec, output: str, batches: Iterator[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    """mapInArrow: each batch's rows of one output, "scores" (the scored rows) or "rejects"
    (the rejected rows with their reasons, no model call)."""
    scorer = _scorer(spec)
    rows, schema = (
        (scorer.scores, spec.scores_schema)
        if output == SCORES_DIR
        else (scorer.rejects, spec.rejects_schema)
    )
    for batch in batches:
        found = rows(_conform(batch, spec.plan.input_schema))
        if found.num_rows:
            yield _conform(found, schema)


def session(batch_rows: int, progress: bool) -> SparkSession:
    """The job's session: spark-submit's master and settings, else local with every core."""
    if "PYSPARK_GATEWAY_PORT" not in os.environ:  # not under spark-submit: workers run here
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(APP_NAME)
    builder = builder.config("spark.sql.execution.arrow.maxRecordsPerBatch", str(batch_rows))
    builder = builder.config("spark.ui.showConsoleProgress", str(progress).lower())
    return builder.getOrCreate()


class HadoopFiles:
    """Renames, deletes and writes through Hadoop's FileSystem: local, HDFS or object store."""

    def __init__(self, spark: SparkSession) -> None:
        context: Any = spark.sparkContext  # py4j handles: untyped
        self.jvm = context._jvm
        self.conf = context._jsc.hadoopConfiguration()

    def _fs(self, path: str) -> tuple[Any, Any]:
        hpath = self.jvm.org.apache.hadoop.fs.Path(path)
        return hpath.getFileSystem(self.conf), hpath

    def exists(self, path: str) -> bool:
        fs, hpath = self._fs(path)
        return bool(fs.exists(hpath))

    def parent_exists(self, path: str) -> bool:
        fs, hpath = self._fs(path)
        parent = hpath.getParent()
        return parent is None or bool(fs.exists(parent))

    def delete(self, path: str) -> None:
        fs, hpath = self._fs(path)
        fs.delete(hpath, True)

    def rename(self, source: str, target: str) -> None:
        fs, hsource = self._fs(source)
        _, htarget = self._fs(target)
        if not fs.rename(hsource, htarget):
            raise JobFailed(f"could not rename {source} to {target}")

    def write(self, path: str, content: bytes) -> None:
        fs, hpath = self._fs(path)
        stream = fs.create(hpath, True)
        try:
            stream.write(bytearray(content))
        finally:
            stream.close()

    def qualified(self, path: str) -> str:
        fs, hpath = self._fs(path)
        return str(fs.makeQualified(hpath).toString()).rstrip("/")

    def overlap(self, first: str, second: str) -> bool:
        """Whether two paths are the same, or one holds the other."""
        a, b = self.qualified(first), self.qualified(second)
        return a == b or a.startswith(b + "/") or b.startswith(a + "/")

    def is_output(self, path: str) -> bool:
        return self.exists(f"{path}/{MANIFEST_FILE}")

    def listing(self, path: str) -> dict[str, Any]:
        """A fingerprint of a remote input from its listing: names, sizes, modification times."""
        fs, hpath = self._fs(path)
        files = fs.listFiles(hpath, True)
        listed = []
        while files.hasNext():
            status = files.next()
            name = str(status.getPath().toString())
            if not status.getPath().getName().startswith((".", "_")):
                listed.append(
                    {
                        "path": name,
                        "bytes": int(status.getLen()),
                        "modified_ms": int(status.getModificationTime()),
                    }
                )
        listed.sort(key=lambda entry: str(entry["path"]))
        digest = hashlib.sha256(repr(listed).encode()).hexdigest()
        return {"sha256": digest, "method": "listing", "files": listed}


CSV_OPTIONS = {"header": "true", "escape": '"'}  # RFC 4180 quoting, as the local engine writes


def _is_local(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


def _input_format(files: HadoopFiles, path: str) -> InputFormat:
    """parquet or csv, from the input's file names (as the local engine decides)."""
    if _is_local(path):
        return Input.at(path.removeprefix("file://")).format
    listed = files.listing(path)["files"]
    suffixes = {SUFFIXES.get(Path(str(entry["path"])).suffix.lower()) for entry in listed}
    kinds = {kind for kind in suffixes if kind is not None}
    if not listed or None in suffixes or len(kinds) != 1:
        raise JobRefused(f"input {path}: expected .parquet or .csv files")
    return kinds.pop()


def _read(spark: SparkSession, path: str, kind: str) -> DataFrame:
    """The input as a DataFrame: Parquet as written; CSV as text, every column, matched to the
    files' headers by name (scoring.values reads each value as the local engine does)."""
    if kind != "csv":
        return spark.read.parquet(path)
    header = spark.read.option("header", True).csv(path).columns
    text = StructType([StructField(name, StringType()) for name in header])
    reader = spark.read.schema(text).options(**CSV_OPTIONS).option("enforceSchema", False)
    # A row with too many or too few fields stops the job, as it does the local reader.
    return reader.option("mode", "FAILFAST").csv(path)


def _ship(models_dir: str, versions: dict[str, int]) -> Path:
    """A copy of exactly the chosen versions, laid out as a repository, to ship with the job."""
    staging = Path(tempfile.mkdtemp(prefix="underwriting-models-"))
    for name, version in versions.items():
        shutil.copytree(Path(models_dir) / name / str(version), staging / name / str(version))
    return staging


def run_spark(job: Job) -> dict[str, object]:
    """Score the whole input into OUTPUT on Spark; return the manifest written with it."""
    try:
        with _lock(job.output):
            return _run(job)
    except KeyboardInterrupt:  # a SIGINT before the handler was reclaimed from Spark
        raise JobStopped("stopped on request") from None
    except (Py4JError, PySparkException) as exc:  # a worker's error, a file Spark cannot read
        check_stop()  # cancelled on request: say so, not what the cancellation looked like
        raise JobFailed(f"Spark: {_spark_reason(exc)}") from None


def _lock(output: str) -> AbstractContextManager[None]:
    """OUTPUT's lock on a local disk (scoring.locking); a remote file system has none."""
    if _is_local(output):
        return output_lock(Path(output.removeprefix("file://")).absolute())
    return nullcontext()


def _local_csv_rows(path: str) -> int | None:
    """A local CSV input's rows, its lines after each header, each checked to be one whole row
    as the local engine checks them (a damaged file is refused, naming its line), before
    Spark starts; None for Parquet, or an input elsewhere."""
    if not _is_local(path):
        return None
    source = Input.at(path.removeprefix("file://"))
    return total_rows(source) if source.format == "csv" else None


def _remote_csv_rows(spark: SparkSession, files: HadoopFiles, path: str) -> int:
    """A remote CSV input's lines counted by Spark, less one header a file (no line named)."""
    parts = len(files.listing(path)["files"])
    return int(spark.read.text(path).count()) - parts


def _spark_reason(exc: BaseException) -> str:
    """The root cause of a Spark error, in a line or two rather than a JVM stack."""
    java = getattr(exc, "java_exception", None)
    if java is not None:
        cause = java
        while cause.getCause() is not None:
            cause = cause.getCause()
        return str(cause.toString())
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    return lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1]}"


def _run(job: Job) -> dict[str, object]:
    started_at, start = utc_now(), time.perf_counter()
    lines = _local_csv_rows(job.input)
    checked = time.perf_counter()
    versions = scoring.resolve_versions(job.models)
    servable = scoring.load(job.models, versions)  # refuse unusable models before Spark starts
    spark = session(job.batch_rows, job.progress)
    reclaim_sigint()  # SparkContext installs its own, which raises anywhere
    on_stop(spark.sparkContext.cancelAllJobs)
    check_stop()
    begun = time.perf_counter()
    files = HadoopFiles(spark)
    if _is_local(job.input) and _is_local(job.output):
        given = Path(job.input.removeprefix("file://"))
        refuse_unsafe(Path(job.output.removeprefix("file://")).absolute(), given, job.overwrite)
    if files.overlap(job.input, job.output):
        raise JobRefused(f"output {job.output} must not be the input, contain it or lie inside it")
    if files.exists(job.output) and not job.overwrite:
        raise JobRefused(f"output {job.output} exists (pass --overwrite to replace it)")
    if files.exists(job.output) and not files.is_output(job.output):
        raise JobRefused(
            f"output {job.output} exists and is not a scoring output (no "
            f"{MANIFEST_FILE}): it is not replaced"
        )
    if not files.parent_exists(job.output):
        raise JobRefused(f"the directory of output {job.output} does not exist")
    if not files.exists(job.input):
        raise JobRefused(f"input {job.input} does not exist")
    kind = _input_format(files, job.input)
    job = job.reading(kind)
    frame = _read(spark, job.input, kind)
    if kind == "csv" and lines is None:  # elsewhere than a local disk: only counts compare
        lines = _remote_csv_rows(spark, files, job.input)
        if frame.count() != lines:
            raise JobRefused(
                f"{job.input}: {lines:,} lines after the headers, but {frame.count():,} rows "
                "(a blank line, which Spark skips)"
            )
    plan = plan_columns(
        to_arrow_schema(frame.schema),
        servable.features,
        REQUEST_FIELDS,
        servable.validator,
        job.id_columns,
        from_text=kind == "csv",
        reserved=scoring.output_names(servable),
        csv_options=job.csv_options(),
    )
    local = scoring.Scorer(servable, plan, job.explain)
    shipped = _ship(job.models.models_dir, versions)
    spark.sparkContext.addFile(str(shipped), recursive=True)
    spec = WorkerSpec(
        shipped.name,
        tuple(versions.items()),
        job.models.runtime,
        job.models.threads,
        plan,
        job.explain,
        local.scores_schema,
        local.rejects_schema,
    )
    staging = hidden_sibling(job.output, "tmp")
    timings: dict[str, float] = {
        "check_input_seconds": round(checked - start, 3),
        "start_spark_seconds": round(begun - checked, 3),
    }
    try:
        fingerprint = _fingerprint(files, job.input)
        rejects_path, scores_path = f"{staging}/{REJECTS_DIR}", f"{staging}/{SCORES_DIR}"
        timings["rejects_pass_seconds"] = _write_pass(
            frame,
            partial(map_batches, spec, REJECTS_DIR),
            spec.rejects_schema,
            job.rejects_as,
            rejects_path,
        )
        if job.on_invalid == "fail":
            first = _first_reasons(spark, rejects_path, job.rejects_as, spec)
            if first:
                raise JobFailed(f"a row is invalid (--on-invalid fail): {first}")
        timings["scores_pass_seconds"] = _write_pass(
            frame,
            partial(map_batches, spec, SCORES_DIR),
            spec.scores_schema,
            job.format,
            scores_path,
        )
        check_stop()
        mark = time.perf_counter()
        tally = _count(spark, (scores_path, job.format), (rejects_path, job.rejects_as), spec)
        input_rows = frame.count()
        timings["count_seconds"] = round(time.perf_counter() - mark, 3)
        if lines is not None and input_rows != lines:  # no line merged or skipped silently
            raise JobFailed(f"{job.input}: {lines:,} lines after the header, {input_rows:,} rows")
        if tally.rows != input_rows:  # nothing dropped silently
            raise JobFailed(
                f"{input_rows:,} input rows, but {tally.scored:,} scored and "
                f"{tally.rejected:,} rejected"
            )
        if _fingerprint(files, job.input) != fingerprint:
            raise JobFailed(f"the input {job.input} changed while it was being scored")
        timings["total_seconds"] = round(time.perf_counter() - start, 3)
        document = manifest(
            job,
            started_at,
            input_rows,
            tally,
            fingerprint,
            scoring.model_digests(job.models, versions),
            plan.id_columns,
            timings,
        )
        files.write(f"{staging}/{MANIFEST_FILE}", manifest_bytes(document))
        check_stop()
        publish(files, staging, job.output, job.overwrite)
        return document
    except BaseException:
        files.delete(staging)
        raise
    finally:
        shutil.rmtree(shipped, ignore_errors=True)


def _write_pass(
    frame: DataFrame,
    batches: Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]],
    schema: pa.Schema,
    kind: str,
    path: str,
) -> float:
    """One pass over the input through `batches` in the Python workers, written to `path`;
    its seconds. A stop request is looked at before and after (the pass itself is cancelled)."""
    check_stop()
    start = time.perf_counter()
    mapped = frame.mapInArrow(batches, from_arrow_schema(schema))
    mapped.write.format(kind).options(**(CSV_OPTIONS if kind == "csv" else {})).save(path)
    check_stop()
    return round(time.perf_counter() - start, 3)


def _fingerprint(files: HadoopFiles, path: str) -> dict[str, Any]:
    """The input's content hashes where it is local, else its listing's."""
    if _is_local(path):
        return Input.at(path.removeprefix("file://")).fingerprint()
    return files.listing(path)


def _written(spark: SparkSession, path: str, kind: str, schema: pa.Schema) -> DataFrame:
    """A written output, read back with the schema it was written with."""
    reader = spark.read.schema(from_arrow_schema(schema))
    return reader.options(**CSV_OPTIONS).csv(path) if kind == "csv" else reader.parquet(path)


def _first_reasons(spark: SparkSession, path: str, kind: str, spec: WorkerSpec) -> str:
    frame = _written(spark, path, kind, spec.rejects_schema)
    rows = frame.select(REASONS_COLUMN).limit(1).collect()
    return str(rows[0][0]) if rows else ""


def _count(
    spark: SparkSession, scores: tuple[str, str], rejects: tuple[str, str], spec: WorkerSpec
) -> Tally:
    """Count what was written (each output: its path and format), by outcome and class, and
    the rejects by failing field (in Spark: a book's rejects can be many)."""
    tally = Tally()
    frame = _written(spark, *scores, spec.scores_schema)
    for column, counts in (("outcome", tally.outcomes), ("risk_class", tally.classes)):
        if column in frame.columns:
            counts.update({row[0]: row[1] for row in frame.groupBy(column).count().collect()})
    tally.scored = frame.count()
    rejected = _written(spark, *rejects, spec.rejects_schema)
    tally.rejected = rejected.count()
    fields = F.explode(F.map_keys(F.from_json(REASONS_COLUMN, "map<string,array<string>>")))
    by_field = rejected.select(fields.alias("field")).groupBy("field").count().collect()
    tally.rejected_by_field = {row[0]: row[1] for row in by_field}
    return tally
