"""`python -m service.decisions`: verify the decision record chain, purge, or show decisions.

    python -m service.decisions verify          exit 0 if the chain is intact, 1 where it breaks
    python -m service.decisions purge           apply SERVICE_DECISIONS_RETENTION_DAYS (and
                                                SERVICE_CASE_APPLICANT_DAYS to cases) now
    python -m service.decisions show REQUEST_ID print a request's recorded decisions, a JSON line
                                                each (exit 1 if none)
    python -m service.decisions show --from TIME [--to TIME] [--after SEQUENCE] [--limit N]
                                                those recorded in [--from, --to) (RFC 3339
                                                times), oldest first (exit 1 if none)
    python -m service.decisions letter REQUEST_ID [--index N]
                                                render the adverse-decision notice of a record

The store is the one the service's settings name (SERVICE_DECISIONS_DATABASE_URL, else
SERVICE_DECISIONS_DATABASE / the default SQLite file beside SERVICE_MODELS_DIR).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from contract.features import Feature
from service.decisions.letter import NotAdverse, labels, render
from service.decisions.listing import MAX_LIMIT, MAX_SEQUENCE, Listing, count, listing
from service.decisions.store import DecisionStore, open_store
from service.errors import InvalidInput
from service.settings import Settings, SettingsError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m service.decisions",
        description=(__doc__ or "").splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join((__doc__ or "").splitlines()[2:]),
    )
    parser.add_argument("command", choices=["verify", "purge", "show", "letter"])
    parser.add_argument("request_id", nargs="?")
    parser.add_argument("--index", type=int, default=0, help="the record within the request")
    parser.add_argument("--from", dest="start", metavar="TIME", help="show: recorded from TIME")
    parser.add_argument("--to", dest="end", metavar="TIME", help="show: recorded before TIME")
    parser.add_argument("--after", metavar="SEQUENCE", help="show: after this sequence")
    parser.add_argument("--limit", metavar="N", help="show: at most N decisions (default: all)")
    args = parser.parse_args(argv)
    ranged = any(v is not None for v in (args.start, args.end, args.after, args.limit))
    if ranged and (args.command != "show" or args.request_id):
        parser.error("--from, --to, --after and --limit choose what `show` lists without an id")
    try:
        wanted = listing(args.start, args.end, args.after) if ranged else None
        most = count(args.limit, "limit", 1, MAX_SEQUENCE) if args.limit else MAX_SEQUENCE
    except InvalidInput as exc:
        parser.error(exc.message)
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
        settings.case_applicant_days,
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
                f"{settings.decisions_retention_days} days; erased the applicants' values of "
                f"cases opened more than {settings.case_applicant_days} days ago"
            )
            return 0
        if args.command == "show" and wanted is not None:
            return _show_range(store, wanted, most)
        if not args.request_id:
            needs = "a REQUEST_ID, or --from/--to" if args.command == "show" else "a REQUEST_ID"
            parser.error(f"{args.command} needs {needs}")
        found = store.find(args.request_id)
        if args.command == "show":
            for record in found:
                print(_line(record))
            if not found:
                print(f"no decision recorded for {args.request_id!r}", file=sys.stderr)
            return 0 if found else 1
        chosen = [r for r in found if r["index"] == args.index]
        if not chosen:
            print(
                f"no decision recorded for {args.request_id!r} (record {args.index})",
                file=sys.stderr,
            )
            return 1
        record = chosen[-1]  # the latest, if the request id was sent again
        known: dict[str, Feature] = {}
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


def _show_range(store: DecisionStore, chosen: Listing, most: int) -> int:
    """Print the decisions of a range, a JSON line each, reading it a page at a time."""
    shown, last = 0, None
    for record in _pages(store, chosen):
        if shown == most:
            print(f"more decisions follow: --after {last}", file=sys.stderr)
            break
        print(_line(record))
        shown, last = shown + 1, record["sequence"]
    if not shown:
        print("no decision recorded in that range", file=sys.stderr)
    return 0 if shown else 1


def _pages(store: DecisionStore, chosen: Listing) -> Iterator[dict[str, Any]]:
    """Every decision a listing chooses, page after page until one comes back short."""
    chosen = dataclasses.replace(chosen, limit=MAX_LIMIT)
    while rows := store.listed(chosen):
        yield from rows
        if len(rows) < MAX_LIMIT:
            return
        chosen = dataclasses.replace(chosen, after=int(rows[-1]["sequence"]))


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


if __name__ == "__main__":
    sys.exit(main())
