"""The TF Serving predict envelope: `instances` (rows) or `inputs` (columns), one of the two."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from marshmallow import ValidationError, fields, validate, validates_schema

from contract.metadata import SIGNATURE_NAME
from service.errors import InvalidInput
from service.validation.records import ValidRecords
from service.validation.schemas import StrictBoolean, StrictSchema
from service.validation.typed import TypedRecords, bounded_list


class PredictRequest(StrictSchema):
    """The TF Serving predict envelope; records inside are checked by the model's schemas."""

    signature_name = fields.String(validate=validate.Equal(SIGNATURE_NAME))
    instances = fields.Raw(metadata={"description": "Applicant records (row format)."})
    inputs = fields.Raw(metadata={"description": "Feature name -> list of values (columnar)."})
    explain = StrictBoolean(
        metadata={"description": "false: skip the model's reason attributions (bulk scoring)."}
    )

    @validates_schema
    def _exactly_one(self, data: dict[str, Any], **kwargs: Any) -> None:
        """Require exactly one of the two TF Serving request formats."""
        if ("instances" in data) == ("inputs" in data):
            raise ValidationError("Send exactly one of 'instances' (rows) or 'inputs' (columns).")


_ENVELOPE = PredictRequest()  # stateless once built; building one per request costs ~50 us
_ENVELOPE_KEYS = frozenset(_ENVELOPE.fields)


def parse_envelope(payload: Any) -> dict[str, Any]:
    """Validate the TF Serving envelope (`instances` or `inputs`, optional `signature_name`)."""
    if _plain_envelope(payload):
        return dict(payload)
    if not isinstance(payload, dict):
        raise InvalidInput(
            "Request body must be a JSON object with 'instances' or 'inputs'",
            {"_schema": ["Expected a JSON object."]},
        )
    if not payload.keys() & _ENVELOPE_KEYS:
        # The usual slip: a bare record. One sentence beats 23 "Unknown field" messages.
        raise InvalidInput(
            'Request body must wrap records as {"instances": [record, ...]} or columns as '
            '{"inputs": {feature: [values]}}',
            {"_schema": [f"Got an object with keys {sorted(payload)[:5]}... and neither."]},
        )
    try:
        return dict(_ENVELOPE.load(payload))
    except ValidationError as exc:
        details = _as_dict(exc.messages)
        raise InvalidInput(f"Invalid request envelope: {_describe(details)}", details) from None


def _plain_envelope(payload: Any) -> bool:
    """Accept the common, valid envelope without marshmallow (it reports what is wrong)."""
    return (
        type(payload) is dict
        and payload.keys() <= _ENVELOPE_KEYS
        and ("instances" in payload) != ("inputs" in payload)
        and payload.get("signature_name", SIGNATURE_NAME) == SIGNATURE_NAME
        and type(payload.get("explain", True)) is bool
    )


def _as_dict(messages: Any) -> dict[str, Any]:
    """Return marshmallow's messages as a dict (a bare list is a schema-level message)."""
    return dict(messages) if isinstance(messages, dict) else {"_schema": list(messages)}


def _describe(details: dict[str, Any]) -> str:
    """Summarise envelope messages on one line, e.g. `extra: Unknown field.`."""
    parts = []
    for key, messages in details.items():
        text = " ".join(str(m) for m in messages) if isinstance(messages, list) else str(messages)
        parts.append(text if key == "_schema" else f"{key}: {text}")
    return "; ".join(parts)


class FastEnvelope:
    """The predict envelope of valid records, decoded and checked in one pass (msgspec).

    `decode` returns the records validated, or None: then the body takes the strict
    route (the standard library's decoder, the envelope schema and marshmallow), which accepts
    the same bodies and says what is wrong with the others. A repeated key is the one thing
    msgspec would let through (it keeps the last); counting `":` catches it, since on this route
    no key or string value can hold a quote.
    """

    def __init__(self, typed: TypedRecords, max_records: int) -> None:
        signature = ("signature_name", Literal[SIGNATURE_NAME] | msgspec.UnsetType, msgspec.UNSET)
        explain = ("explain", bool | msgspec.UnsetType, msgspec.UNSET)
        records = bounded_list(typed.record, max_records)
        rows = msgspec.defstruct(
            "Rows", [("instances", records), signature, explain], forbid_unknown_fields=True
        )
        columns = msgspec.defstruct(
            "Columns",
            [("inputs", typed.columns(max_records)), signature, explain],
            forbid_unknown_fields=True,
        )
        self._rows: msgspec.json.Decoder[Any] = msgspec.json.Decoder(rows)
        self._columns: msgspec.json.Decoder[Any] = msgspec.json.Decoder(columns)
        self._width = typed.width

    def decode(self, body: bytes) -> tuple[ValidRecords, bool] | None:
        """Return the validated records and the explain flag, or None for the strict route."""
        try:
            if b'"instances"' in body:
                envelope = self._rows.decode(body)
                keys = 1 + self._width * len(envelope.instances)
                found = ValidRecords.of_rows(envelope.instances)
            elif b'"inputs"' in body:
                envelope = self._columns.decode(body)
                keys = 1 + self._width
                sizes = {len(values) for values in msgspec.structs.astuple(envelope.inputs)}
                if len(sizes) != 1:
                    return None
                found = ValidRecords.of_columns(envelope.inputs, sizes.pop())
            else:
                return None
        except (msgspec.ValidationError, msgspec.DecodeError):
            return None
        keys += envelope.signature_name is not msgspec.UNSET
        explained = envelope.explain is msgspec.UNSET or envelope.explain
        keys += envelope.explain is not msgspec.UNSET
        return (found, explained) if body.count(b'":') == keys else None
