"""The servables a worker answers with: loaded after the fork, polled, swapped atomically.

One background thread per worker loads the highest complete version of each model, builds the
composites from them, then polls. A new version is published only after it loaded and warmed
up, in one reference assignment of the whole snapshot; a request keeps the servable it took. A
version that fails is refused once, logged and counted, and never retried (versions are
immutable: a fix is a new version number).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from contract.artifact import is_version_name
from service.errors import NotFound, NotReady
from service.observability import metrics
from service.repository.versions import complete_versions

log = logging.getLogger(__name__)
# Claims in the metrics directory (service.gunicorn_config empties it of these at start).
REFUSAL_SUFFIX = ".refused"


class Served(Protocol):
    """What the store needs of whatever it serves (service.inference.servable.Servable)."""

    @property
    def version(self) -> int | None:
        """The version of a single model; None for a composite."""

    @property
    def versions(self) -> dict[str, int]:
        """Every model name behind it, with its version."""


S = TypeVar("S", bound=Served)


@dataclass(frozen=True)
class VersionStatus:
    """What happened to one version, in TF Serving's vocabulary."""

    version: int
    state: str  # LOADING | AVAILABLE | END
    error: str = ""


class ModelStore(Generic[S]):
    """Holds the serving snapshot (models and composites) and keeps it current.

    `loader(name, version, path)` loads one version; `combine(name, components)` builds a
    composite from its components' servables. Both raise to refuse. A version directory is
    complete when it holds its metadata.json (the policy: its policy.json).
    """

    def __init__(
        self,
        models_dir: Path,
        names: tuple[str, ...],
        interval: float,
        loader: Callable[[str, int, Path], S],
        composites: Mapping[str, tuple[str, ...]],
        combine: Callable[[str, tuple[S, ...]], S],
        label_prefix: str = "",
    ) -> None:
        self.models_dir = models_dir
        # Its metrics' model labels (and refusal claims) are prefixed: a challenger's store
        # ("challenger:") never reads as the champion's models on dashboards and alerts.
        self.label_prefix = label_prefix
        self.names = names
        self.composites = dict(composites)
        self.interval = interval
        self._loader = loader
        self._combine = combine
        self._serving: dict[str, S] = {}  # replaced whole, never mutated
        self._composed_from: dict[str, tuple[S, ...]] = {}
        self._refused: dict[tuple[str, int], str] = {}
        self._compose_errors: dict[str, str] = {}
        self._loading: dict[str, int] = {}
        self._ignored: set[tuple[str, str]] = set()  # (model, entry) already logged
        self._scanned = threading.Event()
        self._stop = threading.Event()

    def start(self) -> None:
        """Start the loader thread (in the worker, after the fork)."""
        for name in self.servable_names():  # expose 0 before any failure: increase() sees the 1st
            metrics.MODEL_LOAD_FAILURES.labels(self.label_prefix + name)
        threading.Thread(target=self._poll, name="model-store", daemon=True).start()

    def stop(self) -> None:
        """Ask the loader thread to finish after its current step."""
        self._stop.set()

    def wait_scanned(self, timeout: float) -> bool:
        """Block until the first scan of the repository finished (for tests and tools)."""
        return self._scanned.wait(timeout)

    def _poll(self) -> None:
        """Load, then look for new versions every interval until stopped."""
        self.refresh()
        self._scanned.set()
        for name in self.servable_names():
            if name not in self._serving:
                log.warning("%s; the service is not ready", self.not_ready_reason(name))
        while not self._stop.wait(self.interval):
            self.refresh()

    def refresh(self) -> None:
        """Load newer versions, rebuild composites over them, publish one new snapshot."""
        snapshot = dict(self._serving)
        changed = False
        for name in self.names:
            try:
                if (servable := self._newest(name)) is not None:
                    snapshot[name], changed = servable, True
            except Exception:  # the poller must outlive anything the filesystem throws
                log.exception("model %s: refresh failed", name)
        if changed:
            self._compose(snapshot)
            self._publish(snapshot)

    def _newest(self, name: str) -> S | None:
        """Try versions from the highest down, stopping at the one already serving."""
        current = self._serving.get(name)
        self._note_foreign_entries(name)
        for version in complete_versions(self.models_dir, name):
            if current is not None and version == current.version:
                return None
            if (name, version) not in self._refused:
                if (servable := self._load(name, version)) is not None:
                    return servable
        return None

    def _load(self, name: str, version: int) -> S | None:
        """Load one version, or refuse it with a log line and the load-failure metric."""
        self._loading[name] = version
        try:
            return self._loader(name, version, self.models_dir / name / str(version))
        except Exception as exc:
            reason = self._without_paths(f"{type(exc).__name__}: {exc}")
            self._refused[(name, version)] = reason  # clients see it: no filesystem path
            count_refusal(self.label_prefix + name, str(version))
            log.error(
                "model %s version %s refused, not retried: %s: %s",
                name,
                version,
                type(exc).__name__,
                exc,
            )
            return None
        finally:
            self._loading.pop(name, None)

    def _note_foreign_entries(self, name: str) -> None:
        """Log, once each, entries of a model's folder that are not versions (e.g. "²", "v2"):
        they are ignored and never stop a later version from loading. Hidden entries (staging
        folders of publications under way) are not mentioned."""
        try:
            entries = [p.name for p in (self.models_dir / name).iterdir()]
        except OSError:
            return
        for entry in entries:
            if entry.startswith(".") or is_version_name(entry) or (name, entry) in self._ignored:
                continue
            self._ignored.add((name, entry))
            log.warning(
                "model %s: ignoring %r in its folder: not a version (ASCII digits)", name, entry
            )

    def _without_paths(self, text: str) -> str:
        """`text` with the repository's location removed: paths read relative to it."""
        root = self.models_dir
        for prefix in sorted(
            {str(root.resolve()), str(root.absolute()), str(root)}, key=len, reverse=True
        ):
            text = text.replace(prefix + os.sep, "")
        return text

    def _compose(self, snapshot: dict[str, S]) -> None:
        """Rebuild each composite whose components changed; keep the previous one if that fails."""
        for name, parts in self.composites.items():
            if any(part not in snapshot for part in parts):
                continue
            components = tuple(snapshot[part] for part in parts)
            if name in snapshot and _same(self._composed_from.get(name, ()), components):
                continue
            try:
                snapshot[name] = self._combine(name, components)
                self._composed_from[name] = components
                self._compose_errors.pop(name, None)
            except Exception as exc:
                # The composite's old components stay loaded inside it, so it keeps serving:
                # a bad pairing must not cost the whole service its readiness.
                self._compose_errors[name] = self._without_paths(f"{type(exc).__name__}: {exc}")
                pairing = (f"{n}-{v}" for c in components for n, v in c.versions.items())
                count_refusal(self.label_prefix + name, "+".join(pairing))
                log.error("composite %s not built: %s", name, self._compose_errors[name])

    def _publish(self, snapshot: dict[str, S]) -> None:
        """Swap the snapshot in with one assignment; update the model-info gauge."""
        old, self._serving = self._serving, snapshot
        for name in self.names:
            before, after = old.get(name), snapshot.get(name)
            if after is not None and after is not before:
                label = self.label_prefix + name
                metrics.MODEL_INFO.labels(label, str(after.version)).set(1)
                if before is not None:
                    metrics.MODEL_INFO.labels(label, str(before.version)).set(0)
                log.info(
                    "model %s: serving version %s (was %s)",
                    name,
                    after.version,
                    before.version if before else None,
                )

    def get(self, name: str, version: int | None = None) -> S:
        """Return the servable for `name` (and `version`, if that one is loaded)."""
        if name not in self.names and name not in self.composites:
            raise NotFound(f"Unknown model {name!r}", {"models": self.servable_names()})
        servable = self._serving.get(name)
        if servable is None:
            raise NotReady(self.not_ready_reason(name), {"model": name})
        if version is not None and version != servable.version:
            if servable.version is None:  # the dataplane names what to address instead
                raise NotFound(f"{name!r} has no versions of its own", {"model": name})
            raise NotFound(
                f"Version {version} of {name!r} is not loaded (serving version {servable.version})",
                {"model": name, "version": version, "loaded_versions": [servable.version]},
            )
        return servable

    def servable_names(self) -> list[str]:
        """Return every name a request may address."""
        return [*self.names, *self.composites]

    def serving(self) -> dict[str, S]:
        """Return a consistent snapshot of what is being served."""
        return self._serving

    def ready(self) -> bool:
        """True once every model and composite is loaded and warmed up."""
        return all(name in self._serving for name in self.servable_names())

    def require_ready(self) -> dict[str, S]:
        """Return what is serving if every name is; else raise NotReady saying what is missing."""
        serving = self._serving
        missing = {n: self.not_ready_reason(n) for n in self.servable_names() if n not in serving}
        if missing:
            raise NotReady("Not ready: " + "; ".join(missing.values()), {"models": missing})
        return serving

    def not_ready_reason(self, name: str) -> str:
        """Explain why a name has nothing serving."""
        if name in self.composites:
            missing = [p for p in self.composites[name] if p not in self._serving]
            if missing:
                return "; ".join(self.not_ready_reason(part) for part in missing)
            return f"Model {name!r}: {self._compose_errors.get(name, 'being built')}"
        if name in self._loading:
            return f"Model {name!r} version {self._loading[name]} is loading"
        if not self._scanned.is_set():
            return f"Model {name!r} is loading"
        refused = sorted(v for (n, v) in list(self._refused) if n == name)
        if refused:
            return f"Model {name!r}: every version was refused ({refused}); see the logs"
        # Never the filesystem path: the reason goes to clients, the path is the operator's.
        return f"Model {name!r}: no version found in the model repository ({name}/<version>/)"

    def statuses(self, name: str) -> list[VersionStatus]:
        """Return the state of every version of one model this worker knows of, highest first."""
        known = {
            v: VersionStatus(v, "END", why)
            for (n, v), why in list(self._refused.items())
            if n == name
        }
        if name in self._loading:
            known[self._loading[name]] = VersionStatus(self._loading[name], "LOADING")
        servable = self._serving.get(name)
        if servable is not None and servable.version is not None:
            known[servable.version] = VersionStatus(servable.version, "AVAILABLE")
        return [known[v] for v in sorted(known, reverse=True)]


def count_refusal(name: str, what: str) -> None:
    """Count a refused version once per service instance, however many workers refuse it.

    Every worker loads each version itself, so each refuses a broken one, and a restarted worker
    refuses it again; multiprocess counters add up over workers, dead ones included, so counting
    in every worker would report one bad version as several. The first worker to refuse `what`
    claims it with an exclusive create in the metrics directory and counts it; the others don't.
    """
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        try:
            (Path(directory) / f"{name}-{what}{REFUSAL_SUFFIX}").touch(exist_ok=False)
        except FileExistsError:
            return  # another worker counted it
        except OSError:
            log.warning("cannot claim refusal %s-%s in %s; counting it", name, what, directory)
    metrics.MODEL_LOAD_FAILURES.labels(name).inc()


def _same(a: tuple[Served, ...], b: tuple[Served, ...]) -> bool:
    """True if both tuples hold the very same servables."""
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))
