"""`python -m service.decisions`: verify the decision record chain, purge, or show a request.

    python -m service.decisions verify          exit 0 if the chain is intact, 1 where it breaks
    python -m service.decisions purge           apply SERVICE_DECISIONS_RETENTION_DAYS now
    python -m service.decisions show REQUEST_ID print a request's recorded decisions as JSON
    python -m service.decisions letter REQUEST_ID [--index N]
                                                render the adverse-decision notice of a record

The store is the one the service's settings name (SERVICE_DECISIONS_DATABASE_URL, else
SERVICE_DECISIONS_DATABASE / the default SQLite file beside SERVICE_MODELS_DIR).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from service.decisions.letter import NotAdverse, labels, render
from service.decisions.store import open_store
from service.settings import Settings, SettingsError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m service.decisions", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("command", choices=["verify", "purge", "show", "letter"])
    parser.add_argument("request_id", nargs="?")
    parser.add_argument("--index", type=int, default=0, help="the record within the request")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    path = settings.decisions_path()
    if path.is_relative_to(Path.cwd()):
        path = path.relative_to(Path.cwd())
    where = "PostgreSQL" if settings.decisions_database_url else str(path)
    store = open_store(
        settings.decisions_path(),
        settings.decisions_database_url,
        settings.decisions_retention_days,
        settings.decisions_sync,
    )
    try:
        if args.command == "verify":
            report = store.verify()
            span = f"sequences {report.first}..{report.last}" if report.rows else "no rows"
            if report.broken_at is not None:
                print(
                    f"{where}: chain BROKEN at sequence {report.broken_at}: {report.problem} "
                    f"({report.rows} rows read)"
                )
                return 1
            print(f"{where}: chain intact, {report.rows} decisions ({span})")
            if report.rows:  # kept elsewhere, it lets a later verify prove no row was cut off
                print(f"last hash: {report.last_hash}")
            return 0
        if args.command == "purge":
            print(
                f"{where}: purged {store.purge()} decisions older than "
                f"{settings.decisions_retention_days} days"
            )
            return 0
        if not args.request_id:
            parser.error(f"{args.command} needs a REQUEST_ID")
        found = store.find(args.request_id)
        if args.command == "show":
            print(json.dumps({"request_id": args.request_id, "decisions": found}, indent=2))
            return 0 if found else 1
        chosen = [r for r in found if r["index"] == args.index]
        if not chosen:
            print(
                f"no decision recorded for {args.request_id!r} (record {args.index})",
                file=sys.stderr,
            )
            return 1
        record = chosen[-1]  # the latest, if the request id was sent again
        known: dict[str, tuple[str, str]] = {}
        for model, version in record["model_versions"].items():  # any model: one declaration
            known = known or labels(settings.models_dir, model, version)
        try:
            print(render(record, known), end="")
        except NotAdverse as exc:
            print(f"no notice: {exc}", file=sys.stderr)
            return 1
        return 0
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())
