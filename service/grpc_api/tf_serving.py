"""TensorFlow Serving's gRPC API: `PredictionService.Predict` and `GetModelMetadata`, and
`ModelService.GetModelStatus`, over the dataplane (the other methods answer UNIMPLEMENTED).

A PredictRequest's `inputs` are keyed by feature, one tensor of shape [N] each, as TF Serving
REST's columns: each becomes the tensor of a V2 request (its dtype as the V2 datatype, its
values from the typed field or `tensor_content`) and takes the V2 path, with its checks and
messages; a DT_INT32 tensor is read as the integers it holds. The answer's `outputs` are keyed
by output name, the decision a DT_STRING tensor of JSON, and the request id and the versions
that answered come back in trailing metadata (`x-request-id`, `x-model-versions`).
`GetModelMetadata` answers the `signature_def` field with the `serving_default` signature.
"""

from __future__ import annotations

import json
from typing import Any

import grpc
import numpy as np

from service.dataplane import Columns, Dataplane
from service.errors import InvalidInput, NotFound
from service.grpc_api import calls
from service.grpc_api import tf_serving_messages as tfs
from service.grpc_api.oip import AfterCalls, answered, check_values, tensor_error, text_of
from service.inference.servable import Servable
from service.protocols.v2_inputs import check_tensor_count, parse_tensors
from service.protocols.v2_outputs import infer_body, metadata_body, requested_outputs

PREDICTION_SERVICE = "tensorflow.serving.PredictionService"
MODEL_SERVICE = "tensorflow.serving.ModelService"
SIGNATURE_NAME = "serving_default"
SIGNATURE_FIELD = "signature_def"
VERSIONS_KEY = "x-model-versions"
ANY_PREFIX = "type.googleapis.com/"


class _DataType:
    """What each TensorFlow dtype the service reads is in V2 terms, and where its values are."""

    def __init__(self, name: str, datatype: str, values: str, raw: str) -> None:
        self.number = tfs.DATA_TYPES[name].number
        self.datatype, self.values, self.raw = datatype, values, np.dtype(raw) if raw else None


_READ = {
    dtype.number: dtype
    for dtype in (
        _DataType("DT_FLOAT", "FP32", "float_val", "<f4"),
        _DataType("DT_DOUBLE", "FP64", "double_val", "<f8"),
        _DataType("DT_INT32", "INT64", "int_val", "<i4"),  # an int32 is an integer: exact
        _DataType("DT_INT64", "INT64", "int64_val", "<i8"),
        _DataType("DT_BOOL", "BOOL", "bool_val", "?"),
        _DataType("DT_STRING", "BYTES", "string_val", ""),
    )
}
_WRITTEN = {  # V2 datatype -> (TensorFlow dtype, TensorProto field)
    "FP32": ("DT_FLOAT", "float_val"),
    "FP64": ("DT_DOUBLE", "double_val"),
    "INT64": ("DT_INT64", "int64_val"),
    "BOOL": ("DT_BOOL", "bool_val"),
    "BYTES": ("DT_STRING", "string_val"),
}


class TfServingServicer:
    """PredictionService's Predict and GetModelMetadata, ModelService's GetModelStatus."""

    def __init__(self, dataplane: Dataplane, after: AfterCalls) -> None:
        self.dataplane = dataplane
        self.after = after

    def Predict(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        call = calls.current()

        def predicted() -> Any:
            servable = self._servable(request.model_spec)
            check_tensor_count(len(request.inputs), servable.request_fields)
            limit = self.dataplane.max_records
            envelope, columns = parse_tensors(_as_v2(request, limit), servable.request_fields)
            wanted = requested_outputs(envelope, servable)
            prediction = self.dataplane.infer(
                servable, Columns(columns), call.caller, True, self.after.defer_for(context)
            )
            call.scored(prediction)
            body = infer_body(servable, prediction, envelope, wanted, call.caller.request_id)
            versions = json.dumps(body["parameters"]["model_versions"], separators=(",", ":"))
            call.said.append((VERSIONS_KEY, versions))
            return _predict_response(servable, body)

        return answered(context, predicted)

    def GetModelMetadata(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        def described() -> Any:
            servable = self._servable(request.model_spec)
            unknown = sorted(set(request.metadata_field) - {SIGNATURE_FIELD})
            if unknown or not request.metadata_field:
                raise InvalidInput(
                    f"Unsupported metadata_field {', '.join(unknown) or '(none)'}: ask for "
                    f"{SIGNATURE_FIELD!r}",
                    {"metadata_field": ["Only signature_def is served."]},
                )
            response = tfs.GetModelMetadataResponse()
            _model_spec(response.model_spec, servable)
            signatures = _signature_defs(servable)
            packed = response.metadata[SIGNATURE_FIELD]
            packed.type_url = ANY_PREFIX + signatures.DESCRIPTOR.full_name
            packed.value = signatures.SerializeToString()
            return response

        return answered(context, described)

    def GetModelStatus(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        def status() -> Any:
            spec = request.model_spec
            version = _version(spec)
            found = self.dataplane.statuses(spec.name, version)
            if not found:
                raise NotFound(
                    f"No version {version} of {spec.name!r} is known", {"model": spec.name}
                )
            response = tfs.GetModelStatusResponse()
            for _, entry in found:
                added = response.model_version_status.add(
                    version=entry.version, state=tfs.VERSION_STATES[entry.state].number
                )
                added.status.error_code = tfs.ERROR_CODES["UNKNOWN" if entry.error else "OK"].number
                added.status.error_message = entry.error
            return response

        return answered(context, status)

    def _servable(self, spec: Any) -> Servable:
        if spec.signature_name not in ("", SIGNATURE_NAME):
            raise InvalidInput(
                f"Unknown signature_name {spec.signature_name!r}: the signature is "
                f"{SIGNATURE_NAME!r}",
                {"model_spec": {"signature_name": [f"Not {SIGNATURE_NAME!r}."]}},
            )
        return self.dataplane.servable(spec.name, _version(spec))


def handlers(servicer: TfServingServicer) -> list[grpc.GenericRpcHandler]:
    """The two services' methods, with the published messages' (de)serialisers."""

    def unary(method: Any, request: Any, response: Any) -> grpc.RpcMethodHandler:
        return grpc.unary_unary_rpc_method_handler(
            method,
            request_deserializer=request.FromString,
            response_serializer=response.SerializeToString,
        )

    return [
        grpc.method_handlers_generic_handler(
            PREDICTION_SERVICE,
            {
                "Predict": unary(servicer.Predict, tfs.PredictRequest, tfs.PredictResponse),
                "GetModelMetadata": unary(
                    servicer.GetModelMetadata,
                    tfs.GetModelMetadataRequest,
                    tfs.GetModelMetadataResponse,
                ),
            },
        ),
        grpc.method_handlers_generic_handler(
            MODEL_SERVICE,
            {
                "GetModelStatus": unary(
                    servicer.GetModelStatus, tfs.GetModelStatusRequest, tfs.GetModelStatusResponse
                )
            },
        ),
    ]


def _version(spec: Any) -> int | None:
    """The version a ModelSpec names: none for the serving one; a label is assigned to none."""
    which = spec.WhichOneof("version_choice")
    if which == "version_label":
        raise NotFound(
            f"Version label {spec.version_label!r} is not assigned: send a version number, or "
            "none for the serving one",
            {"model_spec": {"version_label": ["No labels are assigned."]}},
        )
    return int(spec.version.value) if which == "version" else None


def _as_v2(request: Any, limit: int) -> dict[str, Any]:
    """The request as the V2 REST envelope the shared parser checks (a tensor of more values
    than `limit` records refused before its values are read)."""
    envelope: dict[str, Any] = {
        "inputs": [_tensor(name, tensor, limit) for name, tensor in sorted(request.inputs.items())]
    }
    if request.output_filter:
        envelope["outputs"] = [{"name": name} for name in request.output_filter]
    return envelope


def _tensor(name: str, tensor: Any, limit: int) -> dict[str, Any]:
    read = _READ.get(tensor.dtype)
    shape = [dim.size for dim in tensor.tensor_shape.dim]
    if read is None:
        dtype = tfs.POOL.FindEnumTypeByName("tensorflow.DataType").values_by_number
        named = dtype[tensor.dtype].name if tensor.dtype in dtype else str(tensor.dtype)
        return {"name": name, "datatype": named, "shape": shape, "data": []}
    if tensor.tensor_content:
        if read.raw is None:
            raise tensor_error(name, "DT_STRING values go in string_val, not tensor_content")
        if len(tensor.tensor_content) % read.raw.itemsize:
            raise tensor_error(name, f"tensor_content is not whole {read.datatype} values")
        check_values(name, len(tensor.tensor_content) // read.raw.itemsize, limit)
        data = np.frombuffer(tensor.tensor_content, dtype=read.raw).tolist()
    else:
        found = getattr(tensor, read.values)
        check_values(name, len(found), limit)
        data = list(found)
    if read.datatype == "BYTES":
        data = [text_of(name, value, "DT_STRING") for value in data]
    return {"name": name, "datatype": read.datatype, "shape": shape, "data": data}


def _model_spec(spec: Any, servable: Servable) -> None:
    spec.name = servable.name
    spec.signature_name = SIGNATURE_NAME
    if servable.version is not None:
        spec.version.value = servable.version


def _predict_response(servable: Servable, body: dict[str, Any]) -> Any:
    response = tfs.PredictResponse()
    _model_spec(response.model_spec, servable)
    for output in body["outputs"]:
        dtype, field = _WRITTEN[output["datatype"]]
        tensor = response.outputs[output["name"]]
        tensor.dtype = tfs.DATA_TYPES[dtype].number
        for size in output["shape"]:
            tensor.tensor_shape.dim.add(size=size)
        values = output["data"]
        if output["datatype"] == "BYTES":
            values = [value.encode("utf-8") for value in values]
        getattr(tensor, field).extend(values)
    return response


def _signature_defs(servable: Servable) -> Any:
    """The serving_default signature: each input and output with its dtype and shape."""
    described = metadata_body(servable)
    signatures = tfs.SignatureDefMap()
    signature = signatures.signature_def[SIGNATURE_NAME]
    signature.method_name = "tensorflow/serving/predict"
    for spec, into in (
        (described["inputs"], signature.inputs),
        (described["outputs"], signature.outputs),
    ):
        for tensor in spec:
            info = into[tensor["name"]]
            info.name = tensor["name"]
            info.dtype = tfs.DATA_TYPES[_WRITTEN[tensor["datatype"]][0]].number
            for size in tensor["shape"]:
                info.tensor_shape.dim.add(size=size)
    return signatures
