"""The TensorFlow Serving descriptors the service vendors, read from the published packages.

`service/grpc_api/published/tensorflow_serving.binpb` is the FileDescriptorSet of TensorFlow
Serving's PredictionService and ModelService definitions and everything they import, exactly as
tensorflow-serving-api (which needs TensorFlow) compiles them. The service loads it without
TensorFlow. A test holds TensorFlow Serving's files equal to the installed tensorflow-serving-api
(pinned in the dev extra) and every message of the TensorFlow files it imports readable by the
installed TensorFlow's (the same fields under the same numbers); `--write` regenerates the file
after an upgrade.

    python tests/support/published_protos.py [--write]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2

REPO = Path(__file__).resolve().parents[2]
VENDORED = REPO / "service" / "grpc_api" / "published" / "tensorflow_serving.binpb"
ROOTS = (
    "tensorflow_serving/apis/prediction_service.proto",
    "tensorflow_serving/apis/model_service.proto",
)


def published() -> bytes:
    """The descriptor set of ROOTS and their imports, dependencies first."""
    from google.protobuf import descriptor_pool
    from tensorflow_serving.apis import model_service_pb2, prediction_service_pb2  # noqa: F401

    pool = descriptor_pool.Default()
    found = descriptor_pb2.FileDescriptorSet()
    seen: set[str] = set()

    def add(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        descriptor = pool.FindFileByName(name)
        for dependency in descriptor.dependencies:
            add(dependency.name)
        descriptor.CopyToProto(found.file.add())

    for root in ROOTS:
        add(root)
    return found.SerializeToString(deterministic=True)


def differences(vendored: bytes, fresh: bytes) -> list[str]:
    """Where the vendored descriptors part from the installed packages' (empty: nowhere)."""
    ours = {f.name: f for f in descriptor_pb2.FileDescriptorSet.FromString(vendored).file}
    theirs = {f.name: f for f in descriptor_pb2.FileDescriptorSet.FromString(fresh).file}
    found = [f"{name}: not vendored" for name in sorted(set(theirs) - set(ours))]
    for name, file in sorted(ours.items()):
        if name not in theirs:
            found.append(f"{name}: no longer published")
        elif name.startswith("tensorflow_serving/"):
            if file != theirs[name]:
                found.append(f"{name}: differs")
        else:
            found += [f"{name}: {problem}" for problem in _unreadable(file, theirs[name])]
    return found


def _unreadable(ours: descriptor_pb2.FileDescriptorProto, theirs: Any) -> list[str]:
    """Fields of our messages that the installed definitions number or type otherwise."""

    def fields(file: Any) -> dict[str, set[tuple[int, str, int]]]:
        found: dict[str, set[tuple[int, str, int]]] = {}

        def visit(prefix: str, messages: Any) -> None:
            for message in messages:
                name = f"{prefix}{message.name}"
                found[name] = {(f.number, f.name, f.type) for f in message.field}
                visit(name + ".", message.nested_type)

        visit("", file.message_type)
        return found

    installed = fields(theirs)
    return [
        f"message {name} changed"
        for name, ours_fields in fields(ours).items()
        if not ours_fields <= installed.get(name, set())
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="regenerate the vendored file")
    args = parser.parse_args()
    fresh = published()
    if args.write:
        VENDORED.write_bytes(fresh)
        print(f"wrote {VENDORED.relative_to(REPO)} ({len(fresh)} bytes)")
        return 0
    found = differences(VENDORED.read_bytes(), fresh) if VENDORED.is_file() else ["missing"]
    print("\n".join(found) or "the vendored descriptors match the published packages")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
