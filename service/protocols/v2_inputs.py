"""Open Inference Protocol (V2) requests: tensors in, the validator's columns out.

Only what is V2-specific is checked here: the envelope, each input's datatype and shape, and
that all inputs have the same length. The values, missing and unknown inputs and prohibited
fields are left to the model's `RequestValidator`, the one validation path both protocols share.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate

from contract.features import Feature
from service.errors import InvalidInput
from service.validation.schemas import StrictSchema, unequal_lengths
from service.validation.validator import EXTRA_FIELDS_ALLOWED

# The V2 datatypes each declared feature type accepts; the first is the one metadata reports.
DATATYPES: dict[str, tuple[str, ...]] = {
    "integer": ("INT64",),
    "number": ("FP64", "FP32"),
    "boolean": ("BOOL",),
    "category": ("BYTES",),
}


class RequestInput(StrictSchema):
    """One input tensor; its `data` is checked against the declaration by the validator."""

    name = fields.String(required=True, metadata={"description": "A declared feature name."})
    datatype = fields.String(required=True)
    shape = fields.List(fields.Integer(strict=True, validate=validate.Range(min=0)), required=True)
    parameters = fields.Dict(
        keys=fields.String(),
        metadata={
            "description": "Tensor parameters. `binary_data_size` (values in a binary body) is "
            "refused with a 400: send the values in `data`."
        },
    )
    data = fields.Raw(required=True, metadata={"description": "The values, flat, shape [N]."})


class RequestOutput(StrictSchema):
    """An output the client asks for (all are returned when none is named)."""

    name = fields.String(required=True)
    parameters = fields.Dict(
        keys=fields.String(),
        metadata={
            "description": "Output parameters. `binary_data: true` is accepted and answered "
            "with the values in `data` (JSON), which V2 clients read as well."
        },
    )


class InferenceRequest(StrictSchema):
    """The V2 inference request: one named input per feature column."""

    id = fields.String(
        metadata={
            "description": "Your label for the request, echoed in the response's `id`. Not the "
            "key decisions are recorded by: that is the X-Request-ID header (answered under "
            "`parameters.request_id`, and as `id` when none is sent)."
        }
    )
    parameters = fields.Dict(keys=fields.String())
    inputs = fields.List(fields.Nested(RequestInput), required=True)
    outputs = fields.List(fields.Nested(RequestOutput))


_REQUEST = InferenceRequest()  # stateless once built


def parse_request(
    payload: Any, features: tuple[Feature, ...]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the loaded envelope and its inputs as columns, or raise InvalidInput."""
    if not isinstance(payload, dict):
        raise InvalidInput("Request body must be a JSON object", {"_schema": ["Not an object."]})
    inputs = payload.get("inputs")
    if isinstance(inputs, list):  # bounded work before any check
        check_tensor_count(len(inputs), features)
    _refuse_binary_data(inputs)
    try:
        envelope = dict(_REQUEST.load(payload))
    except ValidationError as exc:
        details = _name_inputs(payload, exc.messages)
        raise InvalidInput(f"Invalid inference request: {_describe(details)}", details) from None
    return envelope, _columns(envelope["inputs"], {f.name: f.type for f in features})


def parse_tensors(
    envelope: dict[str, Any], features: tuple[Feature, ...]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """As parse_request, for an envelope a typed wire built (gRPC's messages: names and
    datatypes are strings, shapes integers, data lists), so only what its types leave open is
    checked here: the tensor count and negative dimensions. The datatypes, shapes and lengths
    are checked as for JSON, with the same messages."""
    inputs = envelope["inputs"]
    check_tensor_count(len(inputs), features)
    negative = {
        str(tensor["name"]): {"shape": ["Must be greater than or equal to 0."]}
        for tensor in inputs
        if any(size < 0 for size in tensor["shape"])
    }
    if negative:
        details = {"inputs": negative}
        raise InvalidInput(f"Invalid inference request: {_describe(details)}", details)
    return envelope, _columns(inputs, {f.name: f.type for f in features})


def check_tensor_count(count: int, features: tuple[Feature, ...]) -> None:
    """Refuse more input tensors than a request for these features could need (a wire that
    reads tensors itself checks this before reading their values)."""
    limit = len(features) + 1 + EXTRA_FIELDS_ALLOWED  # the features, requested_coverage, slack
    if count > limit:
        reason = f"{count:,} input tensors, at most {limit} accepted (one per feature)."
        raise InvalidInput(f"Invalid inference request: {reason}", {"inputs": [reason]})


def _refuse_binary_data(inputs: Any) -> None:
    """Refuse tensors whose values would follow the JSON in a binary body (not read here:
    answering from `data` would decide on values the client did not mean)."""
    if not isinstance(inputs, list):
        return
    named = [
        str(tensor.get("name", i))
        for i, tensor in enumerate(inputs)
        if isinstance(tensor, dict)
        and isinstance(tensor.get("parameters"), dict)
        and "binary_data_size" in tensor["parameters"]
    ]
    if named:
        reason = (
            "Binary tensor data (parameters.binary_data_size) is not supported: send the "
            "values in 'data'."
        )
        raise _invalid({name: [reason] for name in named})


def _columns(inputs: list[dict[str, Any]], types: dict[str, str]) -> dict[str, Any]:
    """Check each declared input's datatype and shape, then all lengths; return name -> data."""
    if not inputs:
        missing = sorted(types)
        raise InvalidInput("Invalid inference request: 'inputs' is empty", {"missing": missing})
    problems: dict[str, list[str]] = {}
    columns: dict[str, Any] = {}
    lengths: dict[str, int] = {}
    for tensor in inputs:
        name = tensor["name"]
        if name in columns:
            problems.setdefault(name, []).append("Given more than once.")
            continue
        columns[name] = tensor["data"]
        if name in types:  # unknown names are the validator's to refuse (or call prohibited)
            reasons = _tensor_problems(tensor, DATATYPES[types[name]])
            if reasons:
                problems[name] = reasons
            else:
                lengths[name] = tensor["shape"][0]
    if problems:
        raise _invalid(problems)
    expected, odd = unequal_lengths(lengths)
    if odd:
        differ = {n: [f"Shape [{k}], others have [{expected}]."] for n, k in odd.items()}
        raise _invalid(differ, "inputs differ in length")
    return columns


def _tensor_problems(tensor: dict[str, Any], allowed: tuple[str, ...]) -> list[str]:
    """Say what is wrong with one declared input's datatype, shape and data layout."""
    reasons = []
    if tensor["datatype"] not in allowed:
        reasons.append(f"Datatype must be {' or '.join(allowed)}, got {tensor['datatype']!r}.")
    shape, data = tensor["shape"], tensor["data"]
    if len(shape) != 1:
        reasons.append(f"Shape must be [N] (one value per record), got {shape}.")
    elif not isinstance(data, list) or len(data) != shape[0]:
        got = f"{len(data)} values" if isinstance(data, list) else "not an array"
        reasons.append(f"Data must be a flat array of {shape[0]} values (the shape), got {got}.")
    return reasons


def _invalid(problems: dict[str, list[str]], what: str = "") -> InvalidInput:
    """Name every failing input and why in the summary (V2 clients show only it); details too."""
    reasons = "; ".join(f"'{name}': {' '.join(problems[name])}" for name in sorted(problems))
    heading = f"Invalid input tensors ({what})" if what else "Invalid input tensors"
    return InvalidInput(f"{heading}: {reasons}", {"inputs": problems})


def _name_inputs(payload: dict[str, Any], messages: Any) -> dict[str, Any]:
    """Key envelope errors of `inputs[i]` by the input's name when it has one."""
    details = dict(messages) if isinstance(messages, dict) else {"_schema": list(messages)}
    by_index = details.get("inputs")
    tensors = payload.get("inputs")
    if isinstance(by_index, dict) and isinstance(tensors, list):
        details["inputs"] = {_input_name(tensors, i): m for i, m in by_index.items()}
    return details


def _input_name(tensors: list[Any], index: Any) -> str:
    item = tensors[index] if isinstance(index, int) and index < len(tensors) else None
    name = item.get("name") if isinstance(item, dict) else None
    return name if isinstance(name, str) else f"inputs[{index}]"


def _describe(details: dict[str, Any]) -> str:
    """Summarise marshmallow's messages on one line, naming inputs."""
    parts: list[str] = []
    for key, messages in details.items():
        if isinstance(messages, dict):
            label = "input" if key == "inputs" else key
            parts.extend(f"{label} {name!r}: {_flatten(m)}" for name, m in messages.items())
        else:
            parts.append(_flatten(messages) if key == "_schema" else f"{key}: {_flatten(messages)}")
    return "; ".join(parts)


def _flatten(messages: Any) -> str:
    if isinstance(messages, dict):
        return " ".join(f"{k}: {_flatten(v)}" for k, v in messages.items())
    if isinstance(messages, list):
        return " ".join(_flatten(m) for m in messages)
    return str(messages)
