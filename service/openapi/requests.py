"""OpenAPI components: request schemas made of the validators' own marshmallow schemas and fields.

`Record` and `Columns` are the very schema classes a loaded model validates with; the request
envelopes reuse the envelope schemas' fields; each V2 input's `data` items are the feature's
strict field. Responses are written as JSON Schema: schemathesis checks them against the service.
"""

from __future__ import annotations

import copy
from typing import Any

from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields, validate

from contract.features import Feature
from service.protocols.tf_serving_envelope import PredictRequest
from service.protocols.v2_inputs import DATATYPES, InferenceRequest, RequestInput
from service.validation.schemas import (
    Category,
    StrictBoolean,
    StrictInteger,
    StrictNumber,
    StrictSchema,
)
from service.validation.schemas import feature_field as _feature_field
from service.validation.validator import RequestValidator

ERROR_REF = {"$ref": "#/components/schemas/Error"}


class OneOfSchemas(fields.Field):
    """Documentation only: a value that is exactly one of several schemas."""

    def __init__(self, schemas: list[type[Schema]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.schemas = schemas


def _one_of(self: Any, field: fields.Field, **kwargs: Any) -> dict[str, Any]:
    """apispec attribute function (bound to its converter): render OneOfSchemas as oneOf."""
    if isinstance(field, OneOfSchemas):
        return {"oneOf": [self.resolve_nested_schema(schema) for schema in field.schemas]}
    return {}


def _unit(self: Any, field: fields.Field, **kwargs: Any) -> dict[str, Any]:
    """apispec attribute function: carry a declared feature's unit as `x-unit`."""
    unit = field.metadata.get("unit")
    return {"x-unit": unit} if unit else {}


def configure(plugin: MarshmallowPlugin) -> None:
    """Teach an initialised plugin the strict fields' JSON types, oneOf and units."""
    plugin.map_to_openapi_type(StrictInteger, "integer", "int64")
    plugin.map_to_openapi_type(StrictNumber, "number", "double")
    plugin.map_to_openapi_type(StrictBoolean, "boolean", None)
    plugin.map_to_openapi_type(Category, "string", None)
    assert plugin.converter is not None  # set when the plugin joined an APISpec
    plugin.converter.add_attribute_function(_one_of)
    plugin.converter.add_attribute_function(_unit)


def request_schemas(
    validator: RequestValidator, features: tuple[Feature, ...], max_records: int, suffix: str
) -> dict[str, type[Schema]]:
    """Name -> marshmallow schema of every request body a model with this declaration takes."""
    record, columns = type(validator.rows), type(validator.columns)
    signature = PredictRequest._declared_fields["signature_name"]
    explain = PredictRequest._declared_fields["explain"]
    instances = fields.List(
        fields.Nested(record), required=True, validate=validate.Length(1, max_records)
    )
    tensors = [v2_input(feature, suffix) for feature in features]
    envelope = dict(InferenceRequest._declared_fields)
    envelope["inputs"] = fields.List(OneOfSchemas(tensors), required=True)
    envelope["parameters"] = fields.Dict(
        keys=fields.String(),
        metadata={
            "description": "Request parameters. `explain`: false skips the reasons' "
            "attributions of a deciding model (bulk scoring); must be a boolean. "
            "`binary_data_output: true` is accepted and answered with every output's values in "
            "`data` (JSON), which V2 clients read as well."
        },
    )
    # Referenced schemas first, so that apispec refers to them by these names.
    named: dict[str, type[Schema]] = {"Record": record, "Columns": columns}
    named |= {f"V2Input_{f.name}": schema for f, schema in zip(features, tensors, strict=True)}
    named |= {
        "PredictRowsRequest": StrictSchema.from_dict(
            {"signature_name": signature, "instances": instances, "explain": explain},
            name=f"PredictRows{suffix}",
        ),
        "PredictColumnsRequest": StrictSchema.from_dict(
            {
                "signature_name": signature,
                "inputs": fields.Nested(columns, required=True),
                "explain": explain,
            },
            name=f"PredictColumns{suffix}",
        ),
        "InferenceRequest": StrictSchema.from_dict(envelope, name=f"InferenceRequest{suffix}"),
    }
    return {name + suffix: schema for name, schema in named.items()}


def v2_input(feature: Feature, suffix: str = "") -> type[Schema]:
    """The V2 input tensor of one feature: its name, allowed datatypes, shape [N] and values."""
    shape = fields.List(
        fields.Integer(strict=True, validate=validate.Range(min=0)),
        required=True,
        validate=validate.Length(equal=1),
    )
    described: dict[str, fields.Field] = {
        "name": fields.String(required=True, validate=validate.OneOf([feature.name])),
        "datatype": fields.String(required=True, validate=validate.OneOf(DATATYPES[feature.type])),
        "shape": shape,
        "parameters": RequestInput._declared_fields["parameters"],
        "data": fields.List(_feature_field(feature), required=True),
    }
    return StrictSchema.from_dict(described, name=f"V2Input_{feature.name}{suffix}")


def example_record(features: tuple[Feature, ...]) -> dict[str, Any]:
    """A valid record built from the declaration: mid-range numbers, first categories."""
    record: dict[str, Any] = {}
    for f in features:
        if f.type == "category":
            record[f.name] = (f.categories or ("",))[0]
        elif f.type == "boolean":
            record[f.name] = False
        else:
            low = f.minimum if f.minimum is not None else 0
            high = f.maximum if f.maximum is not None else low
            record[f.name] = (low + high) // 2 if f.type == "integer" else (low + high) / 2
    return record


def example_infer_request(features: tuple[Feature, ...]) -> dict[str, Any]:
    """A valid V2 request for one example record."""
    record = example_record(features)
    inputs = [
        {"name": f.name, "datatype": DATATYPES[f.type][0], "shape": [1], "data": [record[f.name]]}
        for f in features
    ]
    return {"id": "example-1", "inputs": inputs}


def add_explain_requests(schemas: dict[str, Any], suffixes: list[str], limit: int) -> None:
    """The `:explain` request bodies: the predict ones, each array bounded by `limit` (each
    record costs an attribution path, so explaining takes fewer records than predicting)."""
    bounds = {"minItems": 1, "maxItems": limit}
    for suffix in suffixes:
        rows = copy.deepcopy(schemas[f"PredictRowsRequest{suffix}"])
        rows["properties"]["instances"].update(bounds)
        columns = copy.deepcopy(schemas[f"Columns{suffix}"])
        for column in columns["properties"].values():
            column.update(bounds)
        columns["description"] = _columns_description(limit)
        request = copy.deepcopy(schemas[f"PredictColumnsRequest{suffix}"])
        request["properties"]["inputs"] = {"$ref": f"#/components/schemas/ExplainColumns{suffix}"}
        schemas[f"ExplainRowsRequest{suffix}"] = rows
        schemas[f"ExplainColumns{suffix}"] = columns
        schemas[f"ExplainColumnsRequest{suffix}"] = request


def _columns_description(limit: int) -> str:
    return (
        "One array per feature (and `requested_coverage`, when sent), every array of the same "
        f"length N, 1 <= N <= {limit} (ragged columns, more records: 400)."
    )


def state_limits(schemas: dict[str, Any], max_records: int, outputs: list[str]) -> None:
    """Write into the rendered request schemas the limits the service enforces beyond types.

    JSON Schema bounds each array (1 to SERVICE_MAX_RECORDS values: more is 400) and names the
    outputs there are; the rules across fields it cannot express (columns of one length, one
    tensor per feature of one shape, outputs of the model in the path) are stated in words and
    flagged by `x-` keywords, so that a generator of requests can honour them.
    """
    bounds = {"minItems": 1, "maxItems": max_records}
    for name, schema in schemas.items():
        properties = schema.get("properties", {})
        if name.startswith("Columns"):
            for column in properties.values():
                column.update(bounds)
            schema["description"] = _columns_description(max_records)
            schema["x-same-length"] = True
        elif name.startswith("V2Input_"):
            properties["data"].update(bounds)
            properties["shape"]["items"].update({"minimum": 1, "maximum": max_records})
        elif name.startswith("InferenceRequest"):
            properties["inputs"]["minItems"] = 1
            properties["inputs"]["description"] = (
                "One tensor per input of the model (GET /v2/models/{name} lists them), each "
                "named once, all of shape [N] with N values, 1 <= N <= "
                f"{max_records} (more records: 400)."
            )
            properties["inputs"]["x-one-tensor-per-input"] = True
            properties["outputs"]["description"] = (
                "Outputs to return, among those of the model named in the path, each named "
                "once; all when absent."
            )
            properties["outputs"]["x-outputs-of-the-model"] = True
        elif name.startswith("RequestOutput"):
            properties["name"]["enum"] = sorted(outputs)
