"""What every protocol calls: validate, assess with the scoring core, add what a request owns.

Protocols decode their wire format into `Rows` or `Columns` (or records a typed decoder already
validated) and encode the `Prediction` they get back. Between: validation against the served
declaration, the scoring core (service.assessing: pack, infer, decide, reasons), and what only a
request has: the decisions' durable record, the drift window and the shadow challenger. It knows
nothing of HTTP: each wire maps its domain errors (service.errors).

One dataplane serves every protocol of a worker process (REST on gunicorn's thread, gRPC on the
gRPC server's), one call at a time: a model's interpreter, the record store's connection and the
windows are not for two threads at once, and the GIL would not score two batches in parallel.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from contract.explanations import Explanation
from policy.decision import Decision
from policy.document import POLICY_NAME, REQUESTED_COVERAGE, Policy
from service.assessing import Assessment, assess
from service.callers import Caller
from service.decisions.case_book import CaseBook
from service.decisions.cases import KINDS, Casework
from service.decisions.explaining import Attributions, attribute
from service.decisions.listing import Listing, Page, page
from service.decisions.store import DecisionEntry, DecisionStore, RequestIdTaken, fingerprint
from service.decisions.store_health import StoreHealth
from service.errors import (
    Conflict,
    DeadlineExceeded,
    NotFound,
    NotReady,
    NotRecorded,
    ServiceError,
)
from service.inference.packing import Batch, pack
from service.inference.prediction import Prediction
from service.inference.servable import Servable
from service.monitoring.drift import DriftMonitor
from service.monitoring.shadow import Shadow
from service.observability import metrics
from service.repository.store import ModelStore, VersionStatus
from service.request_ids import is_request_id
from service.validation.records import ValidRecords
from service.validation.validator import check_count

log = logging.getLogger(__name__)
T = TypeVar("T")
EXPLAIN_MAX_RECORDS = 1_000  # records one :explain request may carry (more: 400)

# Runs work after the response has gone to the client (REST: on the response's close; gRPC: when
# the call has ended); without a wire (a benchmark), at once.
Defer = Callable[[Callable[[], None]], None]


def run_now(work: Callable[[], None]) -> None:
    work()


@dataclass(frozen=True)
class Rows:
    """Records as a client sent them, one object per applicant: validated here."""

    records: Any


@dataclass(frozen=True)
class Columns:
    """Records as a client sent them, one array of values per feature: validated here."""

    columns: Any


@dataclass(frozen=True)
class Explained:
    """A batch's attributions, as the explain signature declares its targets and features."""

    declared: Explanation
    found: Attributions


class Dataplane:
    """Finds the servable for a request and scores the request's records with it."""

    def __init__(
        self,
        store: ModelStore[Servable | Policy],
        max_records: int,
        recorder: DecisionStore | None = None,
        drift: DriftMonitor | None = None,
        shadow: Shadow | None = None,
        defer: Defer = run_now,
        draining: Callable[[], bool] = lambda: False,
        casework: Casework | None = None,
    ) -> None:
        self.store = store
        self.max_records = max_records
        self.lock = threading.RLock()  # one call at a time (see the module's docstring)
        self.recorder = recorder
        # Referrals open cases with the decisions they record; audits only where configured.
        self.casework = casework or Casework(audit_share=0.0)
        for kind in KINDS:
            metrics.CASES_OPENED.labels(kind)
        self.store_health = StoreHealth(recorder) if recorder is not None else None
        self.drift = drift
        self.shadow = shadow
        self.defer = defer
        self.draining = draining

    def servable(self, name: str, version: int | None = None, explaining: bool = False) -> Servable:
        """Return the servable a request addresses (404 unknown, 503 not loaded yet). A 404
        names only what the request could address instead: a model, or for `explaining`, a
        model with an explain signature."""
        addressable = self.explainable() if explaining else self.model_names()
        self._check_addressable(name, version, addressable)
        found = None if name == POLICY_NAME else self.store.get(name, version)
        if not isinstance(found, Servable):
            users = [n for n in self.store.composites if n in addressable]
            raise NotFound(
                f"{name!r} is a decision policy, not a model: address {_listed(users, 'or')}, "
                "which decides with it",
                {"model": name, "models": users},
            )
        return found

    def model_names(self) -> list[str]:
        """Every model a request may address: the models and the composites over them."""
        return [name for name in self.store.servable_names() if name != POLICY_NAME]

    def explainable(self) -> list[str]:
        """The models serving now with an explain signature (that give reasons)."""
        serving = self.store.serving()
        return [
            name
            for name in self.model_names()
            if isinstance(found := serving.get(name), Servable) and found.explaining_model
        ]

    def _check_addressable(self, name: str, version: int | None, addressable: list[str]) -> None:
        """Refuse (404) a name that is not served, or a version of a composite (it has none of
        its own), naming only what may be addressed instead."""
        if name not in self.store.servable_names():
            raise NotFound(
                f"Unknown model {name!r}; the models are {_listed(addressable)}",
                {"models": addressable},
            )
        if version is not None and name in self.store.composites:
            parts = [p for p in self.store.composites[name] if p in addressable]
            raise NotFound(
                f"{name!r} has no versions of its own (it serves its models' serving "
                f"versions): leave the version out, or address {_listed(parts, 'or')} with its "
                "version",
                {"model": name, "models": parts},
            )

    def infer(
        self,
        servable: Servable,
        records: Rows | Columns | ValidRecords,
        caller: Caller | None = None,
        explain: bool = True,
        defer: Defer | None = None,
    ) -> Prediction:
        """Validate every record (400 naming each failure), then score them in one call.

        A servable with a policy also decides each record and records the decisions before
        returning (a decision that cannot be recorded is not given: 503). The caller's request
        id keys them: the same request sent again is answered with the decisions on record
        (`replayed`), another under a used id is refused (409). A caller whose deadline has
        passed gets nothing decided or recorded. A sampled request is handed to the shadow
        challenger, to score once the response is out (`defer`: the dataplane's unless given).
        """
        caller = caller or Caller()
        with self.lock:
            _check_waiting(caller)
            assessed = assess(servable, self._valid(servable, records), explain)
            prediction = assessed.prediction
            if assessed.decided is not None:
                shown = assessed.decided.shown()
                _check_waiting(caller)
                recorded = self._record(servable, prediction, assessed, shown, caller)
                replayed = recorded is not None
                prediction = dataclasses.replace(
                    prediction, decisions=recorded or shown, replayed=replayed
                )
            if not prediction.replayed:  # a replay was watched and shadowed the first time
                self._watch(servable, assessed.batch, prediction)
                if self.shadow is not None and self.shadow.wants(servable):
                    (defer or self.defer)(
                        self._locked(partial(self.shadow.score, servable, assessed))
                    )
        return prediction

    def _locked(self, work: Callable[[], None]) -> Callable[[], None]:
        """`work` run under the dataplane's lock, whichever thread runs it later."""

        def locked() -> None:
            with self.lock:
                work()

        return locked

    def _watch(self, servable: Servable, batch: Batch, prediction: Prediction) -> None:
        """Add the scored records to the drift window; monitoring never fails a prediction."""
        if self.drift is None:
            return
        try:
            numbers, categories = servable.packer.numbers_and_indices(batch)
            self.drift.observe(servable, numbers, categories, prediction.outputs)
        except Exception:
            log.exception("drift tracking failed for %s; the prediction stands", servable.name)

    def _valid(
        self, servable: Servable, records: Rows | Columns | ValidRecords, limit: int | None = None
    ) -> ValidRecords:
        """The records validated (unless a typed decoder did), within the record limit."""
        limit = self.max_records if limit is None else limit
        if isinstance(records, ValidRecords):  # the typed route checked the request's own limit
            check_count(records.size, limit)
            return records
        if isinstance(records, Rows):
            return servable.validator.rows_valid(records.records, limit)
        return servable.validator.columns_valid(records.columns, limit)

    def _record(
        self,
        servable: Servable,
        prediction: Prediction,
        assessed: Assessment,
        shown: list[dict[str, Any]],
        caller: Caller,
    ) -> list[dict[str, Any]] | None:
        """Commit the decisions (their JSON forms, `shown`) to the record store; count them by
        outcome.

        Returns the decisions on record if the request was a replay (None: newly recorded).
        """
        decided = assessed.decided
        assert decided is not None
        if self.recorder is not None and self.store_health is not None:
            names = [f.name for f in servable.features]
            numbers = servable.number_fields  # computed once per servable
            optional = REQUESTED_COVERAGE.name
            applicants = assessed.records.applicants(names, numbers, optional)
            request_id, versions, key_id = caller.request_id, prediction.versions, caller.key_id
            outcomes = decided.decisions.outcome
            cases = self.casework.openings(outcomes, applicants, prediction.outputs)
            new = [
                DecisionEntry(
                    request_id, i, versions, fingerprint(applicant), decision, key_id, case
                )
                for i, (decision, applicant, case) in enumerate(
                    zip(shown, applicants, cases, strict=True)
                )
            ]
            try:
                appended = self.recorder.append(new)
            except RequestIdTaken:
                raise Conflict(
                    f"Request id {caller.request_id!r} already keys other decisions (other "
                    "applicants, another API key or other model versions); send each new request "
                    "with a new X-Request-ID (the same request sent again is answered from the "
                    "record)",
                    {"request_id": caller.request_id},
                ) from None
            except Exception as exc:
                metrics.DECISION_RECORD_FAILURES.inc()
                self.store_health.failed(exc, "to record a request's decisions")
                raise NotRecorded(
                    "The decision could not be recorded, so it is not given; retry the request",
                    {"request_id": caller.request_id},
                ) from None
            self.store_health.wrote()
            if appended.replayed:
                metrics.DECISION_REPLAYS.inc()
                return _recorded_decisions(appended.rows, caller.request_id)
            for kind, count in Counter(case.kind for case in cases if case is not None).items():
                metrics.CASES_OPENED.labels(kind).inc(count)
        version = str(servable.policy.version if servable.policy else "")
        for outcome, count in Counter(decided.decisions.outcome.tolist()).items():
            metrics.DECISIONS.labels(version, outcome).inc(count)
        if incomplete := sum(complete is False for complete in decided.complete.values()):
            metrics.INCOMPLETE_EXPLANATIONS.inc(incomplete)
        return None

    def explain(self, servable: Servable, records: Rows | Columns | ValidRecords) -> Explained:
        """Attributions of every feature for every record, whatever its class (no decision)."""
        model = servable.explaining_model
        if model is None or model.explainer is None or model.metadata.explain is None:
            raise NotFound(
                f"Model {servable.name!r} has no explain signature",
                {"model": servable.name, "explainable": self.explainable()},
            )
        # Each record costs `steps` path points (four times more on a retry): a tighter limit.
        valid = self._valid(servable, records, min(self.max_records, EXPLAIN_MAX_RECORDS))
        batch = pack(servable.packer, valid)
        explanation = model.metadata.explain
        with self.lock:
            return Explained(explanation, attribute(explanation, model.explainer, batch))

    def decisions(self, request_id: str, caller: Caller) -> list[dict[str, Any]]:
        """The recorded decisions of one request that the caller may read (404: none).

        A caller reads the decisions its own key made, unless it may read every caller's; the
        decisions of others are not found (their existence is not revealed either).
        """
        if self.recorder is None or self.store_health is None:
            raise NotFound("No decision record store is configured", {})
        if not is_request_id(request_id):  # never an id the service could have recorded
            raise NotFound("No decisions recorded for that request id", {})
        with self.lock:
            try:
                # Every record of one request (ids recorded again by older versions: a bound).
                found = self.recorder.find(request_id, limit=max(self.max_records, 1_000))
            except Exception as exc:
                self.store_health.read_failed(exc)
                raise NotRecorded("The decision record store is unavailable; retry", {}) from None
        found = [record for record in found if caller.may_read(record.get("key_id"))]
        if not found:
            raise NotFound(
                f"No decisions recorded for request {request_id!r}", {"request_id": request_id}
            )
        return found

    def casework_on(self, work: Callable[[CaseBook], T]) -> T:
        """Run `work` on the cases, one call at a time with predictions (they share the
        store's connection): a store that cannot be read or written is a 503."""
        if self.recorder is None or self.store_health is None:
            raise NotFound("No decision record store is configured: there are no cases", {})
        with self.lock:
            try:
                return work(CaseBook(self.recorder))
            except ServiceError:
                raise
            except Exception as exc:
                self.store_health.read_failed(exc)
                raise NotRecorded("The case store is unavailable; retry", {}) from None

    def decisions_listed(self, chosen: Listing, caller: Caller) -> Page:
        """A page of the recorded decisions a listing chooses, of those the caller may read.

        As for one request's: a caller lists its own key's decisions, unless it may read every
        caller's; the others' are left out (the page says nothing of them).
        """
        if self.recorder is None or self.store_health is None:
            raise NotFound("No decision record store is configured", {})
        if not caller.reads_all and caller.key_id is None:
            return Page([], None)  # keys are required and this caller presented none
        whose = None if caller.reads_all else caller.key_id
        with self.lock:
            try:  # one more than the page: its presence says there is a next page
                rows = self.recorder.listed(
                    dataclasses.replace(chosen, limit=chosen.limit + 1), whose
                )
            except Exception as exc:
                self.store_health.read_failed(exc)
                raise NotRecorded("The decision record store is unavailable; retry", {}) from None
        return page(rows, chosen.limit)

    def serving_policy(self) -> Policy | None:
        """The decision policy serving now, if any."""
        found = [p for p in self.store.serving().values() if isinstance(p, Policy)]
        return found[0] if found else None

    def ready(self) -> dict[str, Servable | Policy]:
        """Return what serves if every name does (503 saying what is missing otherwise).

        An instance shutting down is not ready, though it still answers what reaches it."""
        if self.draining():
            raise NotReady("The instance is shutting down; send to another", {"draining": True})
        serving = self.store.require_ready()
        with self.lock:
            writable = self.store_health is None or self.store_health.writable()
        if not writable:
            raise NotReady(
                "The decision record store cannot record decisions; send to another instance",
                {"decision_store": "failing"},
            )
        return serving

    def statuses(self, name: str, version: int | None = None) -> list[tuple[str, VersionStatus]]:
        """Every version state behind a name (of one version, if given), with the model it
        belongs to: a composite's are its components', the policy's included (404 unknown, or
        a version of a composite, which has none of its own)."""
        self._check_addressable(name, version, self.model_names())
        components = self.store.composites.get(name, (name,))
        found = [(model, status) for model in components for status in self.store.statuses(model)]
        return [entry for entry in found if version is None or entry[1].version == version]


def _check_waiting(caller: Caller) -> None:
    """Refuse to decide for a caller that no longer waits (its deadline passed)."""
    if caller.gone():
        raise DeadlineExceeded(
            "The request's deadline passed before it was decided; nothing was recorded",
            {"request_id": caller.request_id},
        )


def _listed(names: list[str], conjunction: str = "and") -> str:
    """Names as a sentence lists them: 'a', 'b' and 'c'."""
    quoted = [repr(name) for name in names] or ["none"]
    if len(quoted) == 1:
        return quoted[0]
    return f"{', '.join(quoted[:-1])} {conjunction} {quoted[-1]}"


def _recorded_decisions(rows: list[dict[str, Any]], request_id: str) -> list[dict[str, Any]]:
    """The decisions on record of a replayed request, in today's JSON form (409 if they are
    not)."""
    try:
        return [Decision.from_json(row["decision"]).to_json() for row in rows]
    except (KeyError, TypeError, ValueError):
        raise Conflict(
            f"Request id {request_id!r} keys decisions recorded in an earlier form; send the "
            "request with a new X-Request-ID",
            {"request_id": request_id},
        ) from None
