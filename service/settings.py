"""Service settings: one frozen object read from `SERVICE_*` environment variables.

Every field is documented here (and in docs/operations.md); a bad value stops start-up with a
message that names the variable, the value and what was expected.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

PREFIX = "SERVICE_"
Front = Literal["nginx", "none"]
Runtime = Literal["litert", "tensorflow"]
LogLevel = Literal["debug", "info", "warning", "error"]
Durability = Literal["normal", "full"]
# An API key's role and name: its id (16 hex digits), a role, and an optional name.
ROLE_ENTRY = re.compile(r"[0-9a-f]{16}=(client|underwriter|auditor)(:[A-Za-z0-9._@-]{1,64})?")
# Debian installs nginx in /usr/sbin, which is not on an unprivileged user's PATH.
NGINX_FALLBACK = Path("/usr/sbin/nginx")


# Sync workers answer one request at a time: two per CPU keep every core busy while one worker
# waits on a client, for ~45 MiB each (LiteRT; measured in docs/performance.md).
WORKERS_PER_CPU = 2


def available_cpus(cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """CPUs this process may use: its affinity, and a cgroup v2 CPU quota if one is set."""
    cpus = len(os.sched_getaffinity(0))
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":  # e.g. "150000 100000": a container limited to 1.5 CPUs
            cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cpus


class SettingsError(ValueError):
    """A `SERVICE_*` environment variable holds a value the service cannot use."""


def _setting(
    default: Any,
    doc: str,
    valid: Callable[[Any], bool] = lambda v: True,
    expected: str = "",
    secret: bool = False,
    shown: str | None = None,
) -> Any:
    """Declare one setting: its default (a callable: computed when the settings are read),
    documentation (markdown) and validity rule; a choice's rule is its Literal type's values."""
    metadata = {"doc": doc, "valid": valid, "expected": expected, "shown": shown}
    if callable(default):
        return field(default_factory=default, repr=not secret, metadata=metadata)
    return field(default=default, repr=not secret, metadata=metadata)


def _positive(v: float) -> bool:
    return math.isfinite(v) and v > 0


def split_keys(text: str) -> list[str]:
    """Return the API keys in a comma- or newline-separated text."""
    return [key.strip() for key in re.split(r"[,\n]", text) if key.strip()]


def _runtime_installed(name: str) -> bool:
    """A runtime whose library can be imported (checked without importing it)."""
    library = {"litert": "ai_edge_litert", "tensorflow": "tensorflow"}[name]
    return importlib.util.find_spec(library) is not None


def nginx_binary() -> Path | None:
    """The nginx executable: on PATH, else Debian's /usr/sbin/nginx; None when not installed."""
    found = shutil.which("nginx")
    if found:
        return Path(found)
    return NGINX_FALLBACK if os.access(NGINX_FALLBACK, os.X_OK) else None


def _keys_file_ok(path: Path | None) -> bool:
    try:
        return path is None or bool(split_keys(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError):
        return False


def default_workers() -> int:
    """Two sync workers per CPU the process may use."""
    return WORKERS_PER_CPU * available_cpus()


@dataclass(frozen=True)
class Settings:
    """Everything the service can be configured with; env var = SERVICE_ + name in capitals.

    A path may be given as text; an empty one means unset (None).
    """

    host: str = _setting(
        "0.0.0.0",
        "Address the service listens on (the front's, or gunicorn's without one).",
        bool,
        "a host name or address",
    )
    port: int = _setting(
        8080, "TCP port the service listens on.", lambda v: 0 < v < 65536, "1-65535"
    )
    grpc_port: int = _setting(
        8081,
        "TCP port the gRPC server listens on, on `SERVICE_HOST`: every worker process serves "
        "the Open Inference Protocol's and TensorFlow Serving's gRPC services and "
        "`grpc.health.v1` there, the kernel spreading connections among them (`SO_REUSEPORT`); "
        "`0` serves no gRPC.",
        lambda v: 0 <= v < 65536,
        "0-65535",
    )
    grpc_threads: int = _setting(
        2,
        "Threads of each worker's gRPC server. They take turns on the worker's models (one "
        "call scores at a time, as a sync REST worker): a second thread answers a health check "
        "or reads the next message while one scores (measured in docs/performance.md).",
        lambda v: 1 <= v <= 64,
        "1-64",
    )
    grpc_max_message_bytes: int = _setting(
        32 * 1024 * 1024,
        "Largest gRPC message received or sent (larger: `RESOURCE_EXHAUSTED`).",
        lambda v: 1024 <= v < 2**31,
        "1024 to 2147483647 (grpc's limit)",
        shown="`33554432` (32 MiB)",
    )
    grpc_max_concurrent_streams: int = _setting(
        32,
        "Most gRPC calls one connection may have open at once (HTTP/2's "
        "`SETTINGS_MAX_CONCURRENT_STREAMS`: a client waits before opening more), and most "
        "calls one worker holds, running or queued (beyond them a call is refused at once with "
        "`RESOURCE_EXHAUSTED`).",
        lambda v: 1 <= v <= 10_000,
        "1-10000",
    )
    front: Front = _setting(
        "nginx",
        "What faces clients: `nginx` (reads whole requests within timeouts and limits, answers "
        "malformed ones itself, hands gunicorn complete requests over a Unix socket; see "
        "[The front](#the-front)) or `none` (gunicorn on `SERVICE_HOST:SERVICE_PORT`, only "
        "behind another buffering proxy).",
    )
    client_timeout_seconds: int = _setting(
        10,
        "The front closes a connection whose client takes longer than this to send its "
        "headers, pauses longer between two parts of its body, or while reading the answer; a "
        "body that stops arriving is answered 408 (see [The front](#the-front)).",
        lambda v: v >= 1,
        ">= 1",
    )
    drain_seconds: float = _setting(
        1.0,
        "On SIGTERM, how long the instance keeps serving while `/readyz` answers 503 (for load "
        "balancers to stop routing to it, and for requests already sent to arrive), before it "
        "stops accepting and finishes what it holds (the Kubernetes manifest sets 5; SIGINT "
        "skips it).",
        lambda v: math.isfinite(v) and v >= 0,
        ">= 0",
    )
    runtime_dir: Path | None = _setting(
        None,
        "Where the front makes its private directory (nginx's configuration and request bodies "
        "spooled while they arrive, up to `SERVICE_MAX_BODY_BYTES` each; gunicorn's Unix "
        "socket and nginx's own), removed at exit; made if missing; nginx's worker processes "
        "(`nobody` when the service runs as root) must be able to pass through it, and a "
        "socket's path is at most 107 bytes. Unset: the system's temporary directory.",
    )
    workers: int = _setting(
        default_workers,
        f"gunicorn sync worker processes ({WORKERS_PER_CPU} per CPU the process may use, "
        "counting a container's CPU limit).",
        lambda v: v >= 1,
        ">= 1",
        shown=f"{WORKERS_PER_CPU} per CPU",
    )
    models_dir: Path = _setting(
        Path("models"), "Model repository, laid out `<dir>/<model>/<version>/`."
    )
    max_records: int = _setting(
        10_000, "Most records one predict request may carry (more: 400).", lambda v: v >= 1, ">= 1"
    )
    max_body_bytes: int = _setting(
        32 * 1024 * 1024,
        "Largest request body accepted (larger: 413).",
        lambda v: v >= 1024,
        ">= 1024",
        shown="`33554432` (32 MiB)",
    )
    reload_interval_seconds: float = _setting(
        10.0, "Seconds between polls of the repository for new versions.", _positive, "> 0"
    )
    runtime: Runtime = _setting(
        "litert",
        "Model runtime: `litert` (each version's LiteRT export; no TensorFlow in the workers) "
        "or `tensorflow` (the SavedModel; needs the `tensorflow` extra installed).",
        _runtime_installed,
        "litert | tensorflow, with its library installed (the tensorflow runtime: "
        "pip install '.[tensorflow]')",
    )
    runtime_threads: int = _setting(
        1,
        "Threads the model runtime uses per worker (LiteRT interpreter; TensorFlow intra- and "
        "inter-op pools).",
        lambda v: v >= 1,
        ">= 1",
    )
    worker_timeout_seconds: int = _setting(
        60, "gunicorn restarts a worker busy on one request for longer.", lambda v: v >= 1, ">= 1"
    )
    graceful_timeout_seconds: int = _setting(
        30, "On SIGTERM, time in-flight requests get to finish.", lambda v: v >= 0, ">= 0"
    )
    log_level: LogLevel = _setting("info", "Log level of the service's own loggers.")
    api_keys: str = _setting(
        "",
        "Comma-separated API keys; when set (or `_FILE`), prediction and metadata routes need "
        "`Authorization: Bearer <key>`. Unset: open.",
        lambda v: v == "" or bool(split_keys(v)),
        "at least one key",
        secret=True,
    )
    api_keys_file: Path | None = _setting(
        None,
        "File of API keys (comma- or newline-separated), e.g. a container secret; adds to "
        "`SERVICE_API_KEYS`.",
        _keys_file_ok,
        "a readable file holding at least one key",
    )
    decision_readers: str = _setting(
        "",
        "Comma-separated ids of the API keys that may read every caller's decisions "
        "(`GET /v1/decisions/{request_id}`, and list them: `GET /v1/decisions`), e.g. an "
        "auditor's; every other key reads and lists only the decisions it made. A key's id is "
        "the first 16 hex digits of its sha256 (logged at start). Without API keys, anyone "
        "reads every decision.",
        lambda v: all(re.fullmatch(r"[0-9a-f]{16}", k) for k in split_keys(v)),
        "key ids of 16 hex digits",
    )
    api_key_roles: str = _setting(
        "",
        "Comma-separated `KEY_ID=ROLE` or `KEY_ID=ROLE:NAME` entries giving API keys a role "
        "and a name: `client` (predictions, its own decisions), `underwriter` (the cases "
        "routes) or `auditor` (reads every decision and case, changes nothing). A key not "
        "listed is a client named by its id. Roles take effect only with API keys configured.",
        lambda v: all(ROLE_ENTRY.fullmatch(entry) for entry in split_keys(v)),
        "KEY_ID=client|underwriter|auditor[:NAME], a NAME of letters, digits and ._@-",
    )
    decisions_database: Path | None = _setting(
        None,
        "SQLite file of the decision records (WAL mode; its directory must be writable and "
        "shared by the workers). Unset: `decisions/decisions.sqlite3` beside the model "
        "repository. Ignored when `SERVICE_DECISIONS_DATABASE_URL` is set.",
    )
    decisions_database_url: str = _setting(
        "",
        "PostgreSQL URL of the decision records, e.g. `postgresql://user:pass@host/db` "
        "(required when several pods serve). Unset: SQLite.",
        lambda v: v == "" or v.startswith(("postgresql://", "postgres://")),
        "postgresql://...",
        secret=True,
    )
    decisions_retention_days: int = _setting(
        3650,
        "Days a decision record is kept; older ones are purged and the chain re-anchored on the "
        "last one purged.",
        lambda v: v >= 1,
        ">= 1",
    )
    decisions_sync: Durability = _setting(
        "normal",
        "SQLite durability: `normal` (a committed decision survives any process crash) or "
        "`full` (also a power loss, at an fsync per commit).",
    )
    case_audit_share: float = _setting(
        0.02,
        "Share of straight-through decisions (accepted or declined with no underwriter) that "
        "also open an audit case, drawn at random per decision; every referral opens a case. "
        "`0`: no audits.",
        lambda v: 0 <= v <= 1,
        ">= 0 and <= 1",
    )
    case_applicant_days: int = _setting(
        90,
        "Days a case keeps the applicant's values (personal data) after it opens; then they "
        "are erased, and the case keeps its decision, outputs and history.",
        lambda v: v >= 1,
        ">= 1",
    )
    shadow_models_dir: Path | None = _setting(
        None,
        "A challenger model repository (laid out like `SERVICE_MODELS_DIR`) scored in the "
        "shadow of live traffic, after each sampled response (see [The shadow challenger]"
        "(#the-shadow-challenger)). Unset: no challenger.",
        lambda v: v is None or v.is_dir(),
        "an existing directory",
    )
    shadow_sample: float = _setting(
        0.1,
        "Share of requests to `SERVICE_SHADOW_MODEL` the challenger also scores.",
        lambda v: 0 < v <= 1,
        "> 0 and <= 1",
    )
    shadow_model: str = _setting(
        "underwriting",
        "Which model name the challenger shadows (its same-named servable).",
        bool,
        "a model name",
    )
    drift_window_records: int = _setting(
        10_000,
        "Records the drift metrics compare with training: the latest this many, shared out "
        "evenly among the workers (each keeps 90-100% of its share, in ten blocks; see "
        "[Drift](#drift-against-training)).",
        lambda v: v >= 100,
        ">= 100",
    )

    def decisions_path(self) -> Path:
        """The SQLite file of the decision records."""
        if self.decisions_database is not None:
            return self.decisions_database
        return self.models_dir.absolute().parent / "decisions" / "decisions.sqlite3"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from `SERVICE_*` variables, failing fast on a bad value."""
        env = os.environ if environ is None else environ
        types = _types()
        values = {
            f.name: _parse(f.name, types[f.name], env[var])
            for f in fields(cls)
            if (var := env_var(f.name)) in env
        }
        return cls(**values)

    def __post_init__(self) -> None:
        """Take paths given as text; reject out-of-range values however the object was built."""
        types = _types()
        for f in fields(self):
            value = getattr(self, f.name)
            if Path in _options(types[f.name]) and isinstance(value, str):
                value = _path(f.name, types[f.name], value)
                object.__setattr__(self, f.name, value)
            choices = get_args(types[f.name]) if get_origin(types[f.name]) is Literal else ()
            if choices and value not in choices:
                expected = " | ".join(choices)
                raise SettingsError(f"{env_var(f.name)}={value!s} is invalid: expected {expected}")
            if not f.metadata["valid"](value):
                raise SettingsError(
                    f"{env_var(f.name)}={value!s} is invalid: expected {f.metadata['expected']}"
                )

    @property
    def drift_window_per_worker(self) -> int:
        """Each worker's share of the drift window."""
        return -(-self.drift_window_records // self.workers)

    @property
    def drain_marker(self) -> Path | None:
        """The file whose presence tells workers the instance is draining (front only)."""
        if self.front == "nginx" and self.runtime_dir is not None:
            return self.runtime_dir / "draining"
        return None

    @property
    def bind(self) -> str:
        """Return the gunicorn bind address."""
        return f"{self.host}:{self.port}"


def env_var(name: str) -> str:
    """Return the environment variable that sets field `name`."""
    return PREFIX + name.upper()


@cache
def _types() -> dict[str, Any]:
    """Each setting's declared type, resolved once (the annotations are strings)."""
    return get_type_hints(Settings)


def _options(kind: Any) -> tuple[Any, ...]:
    """The types a union allows (a plain type: itself)."""
    return get_args(kind) if get_origin(kind) in (Union, UnionType) else (kind,)


_EXPECTED = {int: "an integer", float: "a number"}


def _path(name: str, kind: Any, text: str) -> Path | None:
    """A path setting's value: empty is unset where the setting may be unset, refused if not."""
    if text.strip():
        return Path(text.strip())
    if type(None) in _options(kind):
        return None
    raise SettingsError(f"{env_var(name)}={text!r} is invalid: expected a path")


def _parse(name: str, kind: Any, raw: str) -> Any:
    """Convert one raw environment value to the setting's type, naming the variable on failure."""
    text = raw.strip()
    if get_origin(kind) is Literal:
        return text.lower()  # checked against the choices with every other rule
    if Path in _options(kind):
        return _path(name, kind, text)
    if kind in _EXPECTED:
        try:
            return kind(text)
        except ValueError:
            raise SettingsError(
                f"{env_var(name)}={raw!r} is invalid: expected {_EXPECTED[kind]}"
            ) from None
    return text


def documentation() -> list[tuple[str, str, str]]:
    """Return (variable, default as shown, description) for every setting."""
    rows = []
    for f in fields(Settings):
        shown = f.metadata["shown"]
        if shown is None:
            shown = "" if f.default in (None, "") else f"`{f.default}`"
        rows.append((env_var(f.name), shown, f.metadata["doc"]))
    return rows


def markdown_table() -> str:
    """The settings as docs/operations.md shows them (python -m service.settings prints it)."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for variable, default, meaning in documentation():
        lines.append(f"| `{variable}` | {default or '(unset)'} | {meaning} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
