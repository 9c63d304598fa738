"""`python -m policy`: check a policy source file, or publish it as the next version.

    python -m policy check [FILE]
    python -m policy publish [FILE] [--models-dir DIR] [--if-none]

FILE defaults to the shipped policy (policy/underwriting.json). `--if-none` publishes only when
the repository holds no policy version yet (what `make run` does).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from contract.errors import ContractError
from policy.publish import DEFAULT_SOURCE, check_fit, current, load_source, publish


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m policy", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["check", "publish"])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument(
        "--models-dir", type=Path, default=Path(os.environ.get("SERVICE_MODELS_DIR", "models"))
    )
    parser.add_argument("--if-none", action="store_true", help="only if no version exists")
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            policy = load_source(args.source)
            check_fit(policy, args.models_dir)  # against the repository's classifier, if any
            print(
                f"{args.source}: valid ({len(policy.knock_outs)} knock-outs, "
                f"{len(policy.reason_texts)} reason codes for {len(policy.reason_codes)} features)"
            )
            return 0
        if args.if_none and (existing := current(args.models_dir)) is not None:
            print(f"policy: version {existing} found in {args.models_dir}/, not publishing")
            return 0
        target, policy = publish(args.source, args.models_dir)
    except (ContractError, OSError, ValueError) as exc:
        print(f"policy {args.source}: {exc}", file=sys.stderr)
        return 2
    print(f"published {policy.name} version {policy.version} to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
