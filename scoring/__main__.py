"""`python -m scoring INPUT OUTPUT`: score a whole book of applicant records from files.

Every row is checked as the service checks a record; valid rows are scored by the served models
and decided by the policy, invalid ones written to OUTPUT/rejects/ with the service's reasons.
OUTPUT appears complete or not at all, with a _manifest.json of counts, models and timings.
Exit status: 0 done, 1 failed while scoring (nothing kept), 2 refused before scoring, 143
stopped on request (SIGTERM or Ctrl-C; a second one ends it at once; nothing kept).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from scoring.errors import JobFailed, JobRefused, JobStopped
from scoring.job import Job
from scoring.manifest import summary
from scoring.scorer import ModelChoice
from scoring.stopping import stoppable

EPILOG = """\
examples:
  python -m scoring book.parquet scored/
  python -m scoring examples/book.csv scored/    (a CSV book's rejects come back as CSV)
  python -m scoring book/ scored/ --id-columns applicant_id --format csv --overwrite
  python -m scoring book/ scored/ --engine spark --version risk_class=3

Columns: the model's features (and optionally requested_coverage); other columns are refused
unless carried through as --id-columns (by default applicant_id and policy_number where present;
other identifiers are personal data, carried only when named). A protected attribute refuses
the job by name.

Exit status: 0 done; 1 failed while scoring; 2 refused before scoring; 143 stopped on request
(SIGTERM or Ctrl-C; a second one ends it at once). Nothing is written unless it ends with 0.
"""


def _pin(text: str) -> tuple[str, int]:
    name, sep, version = text.partition("=")
    if not sep or not version.isdigit() or not name:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=VERSION, e.g. risk_class=3")
    return name, int(version)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number of at least 1")
    return int(text)


def _columns(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m scoring",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", help="a .parquet or .csv file, or a directory of them")
    p.add_argument("output", help="the output directory to create")
    p.add_argument(
        "--models-dir",
        default=os.environ.get("SERVICE_MODELS_DIR", "models"),
        help="the model repository (default: $SERVICE_MODELS_DIR or ./models)",
    )
    p.add_argument(
        "--version",
        dest="pins",
        type=_pin,
        action="append",
        default=[],
        metavar="NAME=VERSION",
        help="score with this version of risk_class, max_coverage or "
        "underwriting_policy (repeatable; default: the highest complete one)",
    )
    p.add_argument(
        "--id-columns",
        type=_columns,
        metavar="A,B",
        help="input columns copied untouched to both outputs",
    )
    p.add_argument(
        "--format",
        choices=("parquet", "csv"),
        default="parquet",
        help="the scores' format (default: parquet)",
    )
    p.add_argument(
        "--rejects-format",
        choices=("parquet", "csv"),
        default=None,
        help="the rejects' format (default: the input's, so that a CSV book's rejects can be "
        "corrected in the same tool and scored again)",
    )
    p.add_argument(
        "--engine",
        choices=("local", "spark"),
        default="local",
        help="local: one streaming process; spark: Apache Spark (pyspark)",
    )
    p.add_argument(
        "--batch-rows",
        type=_positive,
        default=32_768,
        help="rows per batch (and per Arrow batch on Spark; default 32768)",
    )
    p.add_argument(
        "--on-invalid",
        choices=("reject", "fail"),
        default="reject",
        help="reject: write invalid rows to rejects/ (default); fail: stop at the first",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUTPUT")
    p.add_argument(
        "--no-explain",
        dest="explain",
        action="store_false",
        help="skip the model's attributions: adverse decisions keep only knock-out "
        "reasons and reasons_complete null (much faster)",
    )
    p.add_argument("--runtime", choices=("litert", "tensorflow"), default="litert")
    p.add_argument(
        "--threads",
        type=_positive,
        default=None,
        help="runtime threads (default: the CPUs available locally, 1 on Spark)",
    )
    p.add_argument("--no-progress", dest="progress", action="store_false")
    p.add_argument(
        "--debug", action="store_true", help="log the scorer's details, and an error's trace"
    )
    return p


def job_from(args: argparse.Namespace, argv: list[str]) -> Job:
    threads = args.threads or (1 if args.engine == "spark" else len(os.sched_getaffinity(0)))
    return Job(
        input=args.input,
        output=args.output.rstrip("/") or args.output,
        models=ModelChoice(args.models_dir, tuple(args.pins), args.runtime, threads),
        id_columns=args.id_columns,
        format=args.format,
        rejects_format=args.rejects_format,
        engine=args.engine,
        batch_rows=args.batch_rows,
        on_invalid=args.on_invalid,
        overwrite=args.overwrite,
        explain=args.explain,
        progress=args.progress,
        argv=tuple(argv),
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.debug:
        logging.getLogger("scoring").setLevel(logging.DEBUG)
    job = job_from(args, argv)
    try:
        if job.engine == "spark":
            from scoring.spark import run_spark  # pyspark: the optional extra

            with stoppable():
                document = run_spark(job)
        else:
            from scoring.local import run_local

            with stoppable():
                document = run_local(job)
    except JobRefused as exc:
        print(f"python -m scoring: refused: {exc}", file=sys.stderr)
        return 2
    except JobStopped:
        print("python -m scoring: stopped on request, no output written", file=sys.stderr)
        return 128 + signal.SIGTERM
    except JobFailed as exc:
        print(f"python -m scoring: failed, no output written: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # unforeseen: still one line (and its trace under --debug)
        logging.getLogger("scoring").debug("the job failed", exc_info=True)
        reason = (str(exc).strip().splitlines() or [""])[0]
        print(
            f"python -m scoring: failed, no output written: {type(exc).__name__}: {reason}",
            file=sys.stderr,
        )
        return 1
    print(summary(document, job.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
