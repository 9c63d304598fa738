"""`python -m service.repository`: list, verify, promote and roll back model versions.

    python -m service.repository list     [--models-dir DIR]
    python -m service.repository verify   [--models-dir DIR]
    python -m service.repository promote  --from DIR [--models-dir DIR] [--model NAME [--version N]]
    python -m service.repository rollback [--models-dir DIR] [--model NAME [--to-version N]]

--models-dir defaults to SERVICE_MODELS_DIR, else ./models: the repository the service reads.
Promoting and rolling back publish a verified version again under the next number, with its
provenance; the service serves it at its next poll.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from contract.errors import ContractError
from service.repository import lifecycle
from service.repository.lifecycle import LifecycleError, VersionState

EXIT_REFUSED = 2


def _summary(state: VersionState) -> str:
    """Gate, headline metric and provenance of one version, in a few words."""
    metadata = state.metadata
    if metadata is None:
        return state.detail
    words = []
    gate = metadata.training.get("gate")
    if isinstance(gate, dict):
        words.append(
            "gate passed"
            if gate.get("passed")
            else "gate FAILED" + (", published anyway" if gate.get("published_anyway") else "")
        )
    judged = metadata.metrics.get("fresh") or metadata.metrics.get("test") or {}
    for metric in ("accuracy", "log_loss", "rmse"):
        if isinstance(judged.get(metric), (int, float)):
            words.append(f"{metric} {judged[metric]:,.4g}")
    for step in metadata.provenance:
        verb = "promoted from" if step["action"] == "promote" else "rolled back to"
        words.append(f"{verb} {step['source_repository']} v{step['source_version']}")
    return "; ".join(words)


def list_versions(models_dir: Path) -> int:
    """Print every version of every name with its state; the served one is `newest`."""
    print(f"{'model':<22}{'version':>8}  {'state':<11}{'created':<22}details")
    for name in lifecycle.names(models_dir):
        for state in lifecycle.states(models_dir, name):
            print(
                f"{name:<22}{state.version:>8}  {state.state:<11}{state.created_at:<22}"
                f"{_summary(state)}"
            )
    return 0


def verify(models_dir: Path) -> int:
    """Check every complete version's seal and checksums; non-zero if any fails."""
    failed = 0
    for name in lifecycle.names(models_dir):
        for state in lifecycle.states(models_dir, name):
            if state.state == "refused":
                failed += 1
                print(f"{name} version {state.version}: REFUSED: {state.detail}")
            elif state.state != "incomplete":
                print(f"{name} version {state.version}: intact")
    return EXIT_REFUSED if failed else 0


def _user() -> str:
    """Who runs the command: the login name, else the uid (a container's may have no name)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m service.repository", description=__doc__.splitlines()[0]
    )
    parser.add_argument("command", choices=["list", "verify", "promote", "rollback"])
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=Path(os.environ.get("SERVICE_MODELS_DIR", "models")),
        help="the repository the service reads (default: SERVICE_MODELS_DIR, else ./models)",
    )
    parser.add_argument(
        "--from",
        dest="source",
        type=Path,
        metavar="DIR",
        help="promote: the repository to promote from (a staging one, a shadow challenger's)",
    )
    parser.add_argument("--model", help="only this model (or underwriting_policy)")
    parser.add_argument("--version", type=int, help="promote: this version (default: its newest)")
    parser.add_argument(
        "--to-version", type=int, help="rollback: this version (default: the one before)"
    )
    parser.add_argument(
        "--over-failed-gate",
        action="store_true",
        help="promote a version that failed the publication gate (recorded in its metadata)",
    )
    parser.add_argument("--by", default=None, help="who does it (default: the user's name)")
    args = parser.parse_args(argv)
    if args.command == "promote" and args.source is None:
        parser.error("promote needs --from DIR")
    if (args.version is not None or args.to_version is not None) and args.model is None:
        parser.error("--version and --to-version need --model")
    if not args.models_dir.is_dir() and args.command != "promote":
        parser.error(f"--models-dir {args.models_dir}: no such directory")
    by = args.by or _user()
    try:
        if args.command == "list":
            return list_versions(args.models_dir)
        if args.command == "verify":
            return verify(args.models_dir)
        if args.command == "promote":
            done = lifecycle.promote(
                args.source, args.models_dir, by, args.model, args.version, args.over_failed_gate
            )
            verb = f"promoted from {args.source}"
        else:
            done = lifecycle.rollback(args.models_dir, by, args.model, args.to_version)
            verb = "rolled back to"
    except LifecycleError as exc:  # found before anything was published
        print(f"{args.command}: {exc}; nothing published", file=sys.stderr)
        return EXIT_REFUSED
    except (ContractError, OSError) as exc:
        print(f"{args.command}: {exc}; see `list` for what was published", file=sys.stderr)
        return EXIT_REFUSED
    for name, source, published in done:
        print(f"{name}: version {published} published ({verb} version {source})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
