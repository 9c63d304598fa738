"""The Open Inference Protocol over gRPC (`inference.GRPCInferenceService`): a thin adapter.

The messages and the servicer base are the published ones as Triton's client compiles them
(`tritonclient.grpc.service_pb2`): Triton's service is KServe's with extensions, under the same
package, service and field numbers, so KServe's and Triton's stock clients both reach it. The
protocol's six methods are answered; Triton's extensions keep the base's UNIMPLEMENTED.

A request becomes the V2 REST envelope (each tensor's name, datatype, shape and values, from
its typed `contents` or from `raw_input_contents`), and goes through what a V2 REST request
goes through: the same envelope checks, the validator, the scoring core, the decision record.
The answer is the V2 REST body as a ModelInferResponse, the decision a BYTES output of JSON.
"""

from __future__ import annotations

import json
import logging
import struct
import threading
import time
from collections.abc import Callable
from concurrent import futures
from typing import Any, TypeVar

import grpc
import numpy as np
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc

from service.dataplane import Columns, Dataplane, Defer
from service.errors import InvalidInput, ModelFailure, ServiceError
from service.grpc_api import calls
from service.grpc_api.status import abort_with
from service.protocols.v2_inputs import check_tensor_count, parse_tensors
from service.protocols.v2_outputs import (
    SERVER_NAME,
    infer_body,
    metadata_body,
    requested_outputs,
    server_version,
)

log = logging.getLogger(__name__)

# Where each datatype's values travel in InferTensorContents, and how raw bytes hold them.
_CONTENTS = {
    "BOOL": "bool_contents",
    "INT64": "int64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}
_RAW_DTYPES = {
    "BOOL": np.dtype("?"),
    "INT64": np.dtype("<i8"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
}

# The same, as struct reads them (no array built: a request holds a few values per tensor).
MAX_VERSION_DIGITS = 18  # a version is an int64
DROPPED_LOG_SECONDS = 10.0
_STRUCT_FORMATS = {"BOOL": "?", "INT64": "q", "FP32": "f", "FP64": "d"}
_LENGTH = struct.Struct("<I")  # a raw BYTES value's length prefix
Reply = TypeVar("Reply")


class InferenceServicer(service_pb2_grpc.GRPCInferenceServiceServicer):
    """The six methods of the Open Inference Protocol, over one dataplane."""

    def __init__(self, dataplane: Dataplane, after: AfterCalls) -> None:
        self.dataplane = dataplane
        self.after = after

    def ServerLive(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return pb.ServerLiveResponse(live=True)

    def ServerReady(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        def ready() -> Any:
            self.dataplane.ready()
            return pb.ServerReadyResponse(ready=True)

        return answered(context, ready)

    def ServerMetadata(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return pb.ServerMetadataResponse(name=SERVER_NAME, version=server_version(), extensions=[])

    def ModelReady(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        def ready() -> Any:
            self.dataplane.servable(request.name, _version(request.version))
            return pb.ModelReadyResponse(ready=True)

        return answered(context, ready)

    def ModelMetadata(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        def described() -> Any:
            body = metadata_body(self.dataplane.servable(request.name, _version(request.version)))
            return pb.ModelMetadataResponse(
                name=body["name"],
                versions=body["versions"],
                platform=body["platform"],
                inputs=[_tensor_metadata(spec) for spec in body["inputs"]],
                outputs=[_tensor_metadata(spec) for spec in body["outputs"]],
            )

        return answered(context, described)

    def ModelInfer(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        call = calls.current()

        def inferred() -> Any:
            servable = self.dataplane.servable(request.model_name, _version(request.model_version))
            check_tensor_count(len(request.inputs), servable.request_fields)
            limit = self.dataplane.max_records
            envelope, columns = parse_tensors(_as_json(request, limit), servable.request_fields)
            wanted = requested_outputs(envelope, servable)
            explain = _explain(request)
            prediction = self.dataplane.infer(
                servable, Columns(columns), call.caller, explain, self.after.defer_for(context)
            )
            call.scored(prediction)
            body = infer_body(servable, prediction, envelope, wanted, call.caller.request_id)
            return _infer_response(body, raw=bool(request.raw_input_contents))

        return answered(context, inferred)


class AfterCalls:
    """Work that runs once its call has ended (the shadow challenger's), on a thread of its own.

    grpc runs a call's callbacks on the one thread that polls for every call's events: work
    there (and its wait for the dataplane's lock) would stall the whole server. At most
    `waiting` pieces of work wait; beyond them work is dropped and said so in the log, as a
    sampled shadow may be.
    """

    def __init__(self, waiting: int = 8) -> None:
        self._executor = futures.ThreadPoolExecutor(1, thread_name_prefix="grpc-after-call")
        self._slots = threading.BoundedSemaphore(waiting)
        self._dropped = 0
        self._said = 0.0

    def defer_for(self, context: grpc.ServicerContext) -> Defer:
        """The dataplane's `defer` for one call."""

        def defer(work: Callable[[], None]) -> None:
            if not self._slots.acquire(blocking=False):
                self._drop()
                return

            def run() -> None:
                try:
                    work()
                finally:
                    self._slots.release()

            def hand_over() -> None:
                self._executor.submit(run)

            if not context.add_callback(hand_over):  # the call has already ended
                hand_over()

        return defer

    def _drop(self) -> None:
        self._dropped += 1
        now = time.monotonic()
        if now - self._said >= DROPPED_LOG_SECONDS:
            log.warning(
                "work after %d gRPC call(s) dropped: too much already waiting", self._dropped
            )
            self._dropped, self._said = 0, now

    def stop(self) -> None:
        """Finish the work waiting."""
        self._executor.shutdown(wait=True)


def answered(context: grpc.ServicerContext, work: Callable[[], Reply]) -> Reply:
    """The reply, or the call aborted with the status the domain error maps to; either way
    with the call's trailing metadata (its request id)."""
    call = calls.current()
    try:
        reply = work()
    except ServiceError as error:
        if isinstance(error, ModelFailure):  # a model broke its declaration: ours to look into
            log.error("model failure: %s", error.message)
        abort_with(context, error, call.trailing)
    except Exception:  # ours, not the client's: logged with its trace, never its text sent
        log.exception("unexpected failure answering a gRPC call")
        abort_with(context, ModelFailure("Internal error (logged)"), call.trailing)
    context.set_trailing_metadata(call.trailing)
    return reply


def _version(text: str) -> int | None:
    """A request's model version: empty for the serving one, else a whole number."""
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= MAX_VERSION_DIGITS):
        raise InvalidInput(
            f"Invalid model_version {text[:32]!r}: send a whole number (at most "
            f"{MAX_VERSION_DIGITS} digits), or none for the serving one",
            {"model_version": ["Not a whole number."]},
        )
    return int(text)


def _explain(request: Any) -> bool:
    if "explain" not in request.parameters:
        return True
    parameter = request.parameters["explain"]
    if parameter.WhichOneof("parameter_choice") != "bool_param":
        raise InvalidInput(
            "Invalid inference request: parameters.explain must be true or false",
            {"parameters": {"explain": ["Not a boolean."]}},
        )
    return bool(parameter.bool_param)


def _as_json(request: Any, limit: int) -> dict[str, Any]:
    """The request as the V2 REST envelope the shared parser checks (a tensor of more values
    than `limit` records refused before its values are read)."""
    raw = list(request.raw_input_contents)
    if raw and len(raw) != len(request.inputs):
        reason = f"{len(raw)} raw_input_contents for {len(request.inputs)} inputs: send one each"
        raise InvalidInput(f"Invalid inference request: {reason}", {"raw_input_contents": [reason]})
    inputs = [
        {
            "name": tensor.name,
            "datatype": tensor.datatype,
            "shape": list(tensor.shape),
            "data": _raw_values(tensor, raw[index], limit) if raw else _contents(tensor, limit),
        }
        for index, tensor in enumerate(request.inputs)
    ]
    envelope: dict[str, Any] = {"inputs": inputs}
    if request.id:
        envelope["id"] = request.id
    if request.outputs:
        envelope["outputs"] = [{"name": output.name} for output in request.outputs]
    return envelope


def _contents(tensor: Any, limit: int) -> list[Any]:
    """A tensor's values from the contents field its datatype names (any other: refused)."""
    used = [field.name for field, _ in tensor.contents.ListFields()]
    expected = _CONTENTS.get(tensor.datatype)
    if expected is None:
        return []  # an unknown datatype: the shared parser names it
    if any(name != expected for name in used):
        raise tensor_error(tensor.name, f"{tensor.datatype} values go in contents.{expected}")
    found = getattr(tensor.contents, expected)
    check_values(tensor.name, len(found), limit)
    values = list(found)
    if tensor.datatype == "BYTES":
        return [text_of(tensor.name, value) for value in values]
    return values


def _raw_values(tensor: Any, raw: bytes, limit: int) -> list[Any]:
    """A tensor's values from its raw bytes: little-endian, BYTES each with a 4-byte length."""
    if tensor.datatype == "BYTES":
        return _raw_strings(tensor.name, raw, limit)
    dtype = _RAW_DTYPES.get(tensor.datatype)
    if dtype is None:
        return []  # an unknown datatype: the shared parser names it
    if len(raw) % dtype.itemsize:
        raise tensor_error(tensor.name, f"{len(raw)} raw bytes are not whole {tensor.datatype}s")
    count = len(raw) // dtype.itemsize
    check_values(tensor.name, count, limit)
    return list(struct.unpack(f"<{count}{_STRUCT_FORMATS[tensor.datatype]}", raw))


def check_values(name: str, count: int, limit: int) -> None:
    """Refuse a tensor of more values than a request may carry records, before reading them."""
    if count > limit:
        raise tensor_error(
            name, f"{count} values, more than the {limit} records one request may carry"
        )


def _raw_strings(name: str, raw: bytes, limit: int) -> list[str]:
    """Raw BYTES values, each after its 4-byte little-endian length (more than `limit` refused
    as soon as they are counted). Each distinct value is decoded once: categories repeat."""
    values: list[str] = []
    texts: dict[bytes, str] = {}
    position, end = 0, len(raw)
    while position < end:
        if position + 4 > end:
            raise tensor_error(name, "raw BYTES end inside a length prefix")
        (size,) = _LENGTH.unpack_from(raw, position)
        position += 4
        if position + size > end:
            raise tensor_error(name, "raw BYTES end inside a value")
        value = raw[position : position + size]
        position += size
        text = texts.get(value)
        if text is None:
            text = texts[value] = text_of(name, value)
        values.append(text)
        if len(values) > limit:
            check_values(name, len(values), limit)
    return values


def text_of(name: str, value: bytes, datatype: str = "BYTES") -> str:
    """A string tensor's value as text (the tensor named if it is not UTF-8)."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise tensor_error(name, f"{datatype} values must be UTF-8 text") from None


def tensor_error(name: str, reason: str) -> InvalidInput:
    """A tensor refused before the shared parser sees it: named, with why."""
    return InvalidInput(
        f"Invalid input tensors: {name!r}: {reason}.", {"inputs": {name: [f"{reason}."]}}
    )


def _tensor_metadata(spec: dict[str, Any]) -> Any:
    return pb.ModelMetadataResponse.TensorMetadata(
        name=spec["name"], datatype=spec["datatype"], shape=spec["shape"]
    )


def _infer_response(body: dict[str, Any], raw: bool) -> Any:
    """The V2 REST body as a ModelInferResponse: values as raw bytes when the request sent
    raw bytes (Triton's client reads only those), else in the typed contents."""
    parameters = body["parameters"]
    response = pb.ModelInferResponse(
        model_name=body["model_name"], model_version=body["model_version"], id=body["id"]
    )
    response.parameters["request_id"].string_param = parameters["request_id"]
    response.parameters["model_versions"].string_param = json.dumps(
        parameters["model_versions"], separators=(",", ":")
    )
    for output in body["outputs"]:
        datatype, values = output["datatype"], output["data"]
        tensor = response.outputs.add(name=output["name"], datatype=datatype, shape=output["shape"])
        if datatype == "BYTES":
            values = [value.encode("utf-8") for value in values]
        if not raw:
            getattr(tensor.contents, _CONTENTS[datatype]).extend(values)
        elif datatype == "BYTES":
            response.raw_output_contents.append(
                b"".join(len(value).to_bytes(4, "little") + value for value in values)
            )
        else:
            response.raw_output_contents.append(np.asarray(values, _RAW_DTYPES[datatype]).tobytes())
    return response
