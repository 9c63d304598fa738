"""The served composite, loaded from the model repository, scoring one Arrow batch at a time.

The same models, policy and composition as the service (service.inference.composing), loaded
without Flask: one batch is checked, packed for the runtime, scored in one model call, decided,
and returned as two Arrow batches, the scored rows and the rejected ones with their reasons.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from contract.checksums import DIGEST_KEY, METADATA_FILE
from contract.errors import ContractError
from contract.native_stderr import is_delegate_notice, stderr_without
from policy.decide import non_empty
from policy.document import POLICY_FILE, POLICY_NAME
from scoring.checking import REASONS_COLUMN, Checked, ColumnPlan, check, reasons_for
from scoring.errors import JobRefused
from service.assessing import assess
from service.decisions.deciding import DecidedBatch
from service.inference.composing import COMPOSITE, COMPOSITES, combine, load_servable
from service.inference.loader import REQUEST_FIELDS
from service.inference.runtimes import runtime_named
from service.inference.servable import Servable
from service.repository.versions import complete_versions
from service.validation.records import ValidRecords

_JSON = orjson.OPT_SERIALIZE_NUMPY
DECISION_FIELDS = (
    ("outcome", pa.string()),
    ("offer", pa.float64()),
    ("reasons", pa.string()),  # JSON: the ranked reasons of an adverse decision, else []
    ("reasons_complete", pa.bool_()),
    ("rules", pa.string()),  # JSON: the policy rules that fired
)


@dataclass(frozen=True)
class ModelChoice:
    """Where the models are and which versions to score with (None: the highest complete)."""

    models_dir: str
    pins: tuple[tuple[str, int], ...] = ()
    runtime: str = "litert"
    threads: int = 1


def resolve_versions(choice: ModelChoice) -> dict[str, int]:
    """The version of each component the job scores with, checked to exist and be complete."""
    root = Path(choice.models_dir)
    pins = dict(choice.pins)
    names = COMPOSITES[COMPOSITE]
    if unknown := sorted(set(pins) - set(names)):
        raise JobRefused(f"--version names {unknown}; the models are {list(names)}")
    versions = {}
    for name in names:
        complete = complete_versions(root, name)
        if name in pins and pins[name] not in complete:
            raise JobRefused(
                f"{name} version {pins[name]} is not in {root / name} "
                f"(complete versions: {sorted(complete)})"
            )
        if not complete:
            raise JobRefused(f"no complete version of {name} in {root / name}")
        versions[name] = pins.get(name, complete[0])
    return versions


def load(choice: ModelChoice, versions: dict[str, int]) -> Servable:
    """Load, verify and warm up exactly `versions`, composed as the service composes them."""
    runtime = runtime_named(choice.runtime, choice.threads)
    root = Path(choice.models_dir)
    try:
        with stderr_without(is_delegate_notice):
            components = tuple(
                load_servable(name, version, root / name / str(version), runtime)
                for name, version in versions.items()
            )
        return combine(COMPOSITE, components)
    except ContractError as exc:
        raise JobRefused(f"the models cannot score: {exc}") from None


def model_digests(choice: ModelChoice, versions: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Each component's version and the sha256 sealing it (metadata.json's, policy.json's)."""
    out = {}
    for name, version in versions.items():
        path = Path(choice.models_dir) / name / str(version)
        if name == POLICY_NAME:
            raw = json.loads((path / POLICY_FILE).read_text(encoding="utf-8"))
            out[name] = {"version": version, "policy_sha256": raw.get("policy_sha256")}
        else:
            raw = json.loads((path / METADATA_FILE).read_text(encoding="utf-8"))
            out[name] = {"version": version, DIGEST_KEY: raw.get(DIGEST_KEY)}
    return out


class Scorer:
    """Scores Arrow batches of one input's columns with one loaded servable."""

    def __init__(self, servable: Servable, plan: ColumnPlan, explain: bool) -> None:
        self.servable, self.plan, self.explain = servable, plan, explain
        self.scores_schema = scores_schema(servable, plan)
        self.rejects_schema = rejects_schema(plan)

    def score(self, batch: pa.RecordBatch) -> tuple[pa.RecordBatch, pa.RecordBatch]:
        """The scored rows and the rejected rows (with reasons) of one batch."""
        checked = check(batch, self.plan)
        return self._scored(batch, checked), self._rejected(batch, checked.valid)

    def scores(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """Only the scored rows of one batch (the rejects are another pass's)."""
        return self._scored(batch, check(batch, self.plan))

    def rejects(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """Only the rejected rows of one batch: checks, no model call."""
        return self._rejected(batch, check(batch, self.plan).valid)

    def _rejected(self, batch: pa.RecordBatch, valid: np.ndarray) -> pa.RecordBatch:
        if valid.all():
            return pa.RecordBatch.from_pylist([], schema=self.rejects_schema)
        rows = batch.filter(pa.array(~valid))
        reasons = reasons_for(rows, self.plan, self.servable.validator)
        given = rows.select(self.plan.input_schema.names).columns
        arrays = [*given, pa.array(reasons, pa.string())]
        return pa.RecordBatch.from_arrays(arrays, schema=self.rejects_schema)

    def _scored(self, batch: pa.RecordBatch, checked: Checked) -> pa.RecordBatch:
        size = int(checked.valid.sum())
        if size == 0:
            return pa.RecordBatch.from_pylist([], schema=self.scores_schema)
        servable = self.servable
        assessed = assess(servable, valid_records(checked, size), self.explain, observed=False)
        valid = pa.array(checked.valid)
        arrays: list[pa.Array] = [batch.column(n).filter(valid) for n in self.plan.id_columns]
        for output in servable.outputs:
            values = assessed.prediction.outputs[output.name]
            if output.source is None and output.spec.labels is not None:
                arrays.extend(pa.array(values[:, j]) for j in range(values.shape[1]))
            elif output.source is not None:
                arrays.append(pa.array(values.astype(str), pa.string()))
            else:
                arrays.append(pa.array(values.reshape(size)))
        if assessed.decided is not None:
            arrays.extend(decision_columns(assessed.decided, size))
        for version in servable.versions.values():
            arrays.append(pa.array(np.full(size, version, dtype=np.int64)))
        return pa.RecordBatch.from_arrays(arrays, schema=self.scores_schema)


def valid_records(checked: Checked, size: int) -> ValidRecords:
    """A batch's valid rows as the scoring core takes them (the checks are the validator's)."""
    columns = dict(checked.columns)
    if checked.requested is not None:
        columns[REQUEST_FIELDS[0].name] = checked.requested
    return ValidRecords.of_columns(columns, size)


def decision_columns(decided: DecidedBatch, size: int) -> list[pa.Array]:
    """The decisions as the scored output's columns (reasons and rules as JSON text)."""
    arrays = decided.decisions
    reasons = np.full(size, "[]", dtype=object)
    complete = np.ones(size, dtype=bool)
    unknown = np.zeros(size, dtype=bool)
    for i, given in decided.reasons.items():
        if given:
            reasons[i] = orjson.dumps([r.to_json() for r in given], option=_JSON).decode()
    for i, state in decided.complete.items():
        if state is not True:
            unknown[i] = state is None
            complete[i] = bool(state)
    rules = np.full(size, "[]", dtype=object)
    for i, listed in non_empty(arrays.rules).items():
        rules[i] = orjson.dumps(listed, option=_JSON).decode()  # each rule a dataclass
    offer = np.asarray(arrays.offer, dtype=np.float64)
    return [
        pa.array(arrays.outcome, pa.string()),
        pa.array(offer, mask=np.isnan(offer)),
        pa.array(reasons, pa.string()),
        pa.array(complete, mask=unknown),
        pa.array(rules, pa.string()),
    ]


def output_names(servable: Servable) -> frozenset[str]:
    """The columns the outputs add to the input's: no id column may take one of these names."""
    return frozenset(scores_schema(servable, ()).names) | {REASONS_COLUMN}


def scores_schema(servable: Servable, ids: ColumnPlan | tuple[()]) -> pa.Schema:
    """The scored output's columns: ids, outputs (a probability per class), decision, versions."""
    fields = [] if not ids else [ids.input_schema.field(name) for name in ids.id_columns]
    for output in servable.outputs:
        spec = output.spec
        if output.source is None and spec.labels is not None:
            kind = pa.from_numpy_dtype(np.dtype(spec.dtype))
            fields.extend(pa.field(f"{spec.name}_{label}", kind) for label in spec.labels)
        elif output.source is not None:
            fields.append(pa.field(spec.name, pa.string()))
        else:
            fields.append(pa.field(spec.name, pa.from_numpy_dtype(np.dtype(spec.dtype))))
    if servable.policy is not None:
        fields.extend(pa.field(name, kind) for name, kind in DECISION_FIELDS)
    fields.extend(pa.field(f"{name}_version", pa.int64()) for name in servable.versions)
    return pa.schema(fields)


def rejects_schema(plan: ColumnPlan) -> pa.Schema:
    """The rejects output's columns: the input's, as given, and the reasons (JSON)."""
    return plan.input_schema.append(pa.field(REASONS_COLUMN, pa.string()))
