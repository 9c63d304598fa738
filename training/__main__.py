"""Command line: `python -m training` trains and publishes both underwriting models;
`python -m training sample` writes a synthetic book to try the batch scorer on."""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from pathlib import Path

from training.options import (
    DEFAULT_EPOCHS,
    DEFAULT_GROUP_DISPARITY,
    DEFAULT_ROWS,
    DEFAULT_SEED,
    TrainingOptions,
)

DESCRIPTION = """\
Train the risk-class classifier and the maximum-coverage regressor, evaluate them on a held-out
test split (beside the Bayes optimum when the data is synthetic, and a gradient-boosting
baseline), and publish a new version of each under MODELS_DIR/<model>/<version>/.
Without --data, trains on the seeded synthetic applicant generator.

`python -m training sample --rows N --out book.csv` writes N synthetic applicants instead, as a
book to try the batch scorer on (python -m training sample --help)."""


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _iso_date(text: str) -> str:
    try:
        return datetime.date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a date as YYYY-MM-DD, got {text!r}") from None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse and check the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m training",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data",
        type=Path,
        help="applicants CSV: the declared features "
        "plus risk_class and max_coverage columns (default: synthetic data)",
    )
    parser.add_argument(
        "--rows",
        type=_positive,
        default=DEFAULT_ROWS,
        help=f"synthetic rows to generate (default {DEFAULT_ROWS:,})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help=f"seed for data, split and weights (default {DEFAULT_SEED})",
    )
    parser.add_argument(
        "--epochs",
        type=_positive,
        default=DEFAULT_EPOCHS,
        help=f"maximum epochs; early stopping may end sooner (default {DEFAULT_EPOCHS})",
    )
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=Path("models"),
        help="the model repository to publish into (default ./models)",
    )
    parser.add_argument(
        "--fairness-column",
        metavar="COLUMN",
        help="with --data: a column of protected groups (e.g. race) read for the fairness report "
        "only, never for training and never in an artifact",
    )
    parser.add_argument(
        "--group-disparity",
        type=float,
        default=DEFAULT_GROUP_DISPARITY,
        help="synthetic data: how strongly the synthetic protected group follows health risk "
        f"(default {DEFAULT_GROUP_DISPARITY}; 1.0 or more builds in a disparity the fairness "
        "report flags)",
    )
    parser.add_argument(
        "--publish-anyway",
        action="store_true",
        help="publish even if the models fail the publication gate (the quality targets, the "
        "behaviour audit, the LiteRT parity, the reasons' checks); recorded in the metadata and "
        "on the model card",
    )
    parser.add_argument(
        "--set-aside-dir",
        type=Path,
        metavar="DIR",
        help="where models that fail the gate are published instead, never served (default: "
        "MODELS_DIR-set-aside beside the repository)",
    )
    parser.add_argument("--owner", help="who answers for the models, shown on the model card")
    parser.add_argument(
        "--validation-date",
        type=_iso_date,
        help="date (YYYY-MM-DD) of the models' independent validation, shown on the model card",
    )
    args = parser.parse_args(argv)
    if args.fairness_column is not None and args.data is None:
        parser.error("--fairness-column needs --data (synthetic data has its own group column)")
    if args.data is not None and not args.data.is_file():
        parser.error(f"--data {args.data}: no such file")
    if args.set_aside_dir is not None:
        aside, served = args.set_aside_dir.resolve(), args.models_dir.resolve()
        if aside == served or served in aside.parents:
            parser.error("--set-aside-dir must be outside --models-dir (the service reads that)")
    if args.rows < 100 and args.data is None:
        parser.error("--rows must be at least 100 to fill three splits")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run training; print a clear message and return non-zero on any error."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sample"]:
        from training.book import main as sample

        return sample(argv[1:])
    args = parse_args(argv)
    from training.csv_data import DataValidationError, load_csv
    from training.gate import PublicationRefused

    options = TrainingOptions(
        args.models_dir,
        args.data,
        args.rows,
        args.seed,
        args.epochs,
        args.fairness_column,
        args.group_disparity,
        args.owner,
        args.validation_date,
        args.publish_anyway,
        args.set_aside_dir,
    )
    try:
        # A user's file is checked before TensorFlow starts: its problems come in a second.
        data = load_csv(args.data, args.fairness_column) if args.data is not None else None
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
        from training.quiet_start import without_cuda_noise

        with without_cuda_noise():  # no "could not find cuda drivers" on a machine without GPU
            from training.pipeline import run

        run(options, data)
    except PublicationRefused as refused:
        print(f"error: {refused}", file=sys.stderr)
        return 3
    except DataValidationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
