"""What every gRPC call gets, whichever service it calls: as REST's request hooks and key check.

A call's request id comes from its `x-request-id` metadata when plausible, else a new one, and
goes back in its trailing metadata. When keys are configured, a call to a protected method
presents one as `authorization: Bearer <key>` or `x-api-key: <key>` metadata (a missing or wrong
key: UNAUTHENTICATED, before the message is decoded). Its deadline goes with the caller, so a call
past it is not decided. Each call is counted and timed by status code (the
`underwriting_grpc_server_*` families) and writes one access log line, with no metadata and no
values.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import grpc

from service.api_keys import CLIENT, Keys
from service.callers import Caller
from service.errors import Forbidden, InvalidInput, NotAuthenticated, ServiceError
from service.grpc_api.status import abort_with
from service.inference.prediction import Prediction
from service.observability import access_log, metrics
from service.request_ids import request_id_from

REQUEST_ID_KEY = "x-request-id"
HEALTH_SERVICE = "grpc.health.v1.Health"
# Reachable without a key, as REST's health, readiness and server metadata routes are.
OPEN_METHODS = frozenset(
    {
        "/inference.GRPCInferenceService/ServerLive",
        "/inference.GRPCInferenceService/ServerReady",
        "/inference.GRPCInferenceService/ModelReady",
        "/inference.GRPCInferenceService/ServerMetadata",
        f"/{HEALTH_SERVICE}/Check",
        f"/{HEALTH_SERVICE}/Watch",
    }
)
# What every key role may call (metadata and status); any other method predicts: clients only.
READING_METHODS = OPEN_METHODS | {
    "/inference.GRPCInferenceService/ModelMetadata",
    "/tensorflow.serving.PredictionService/GetModelMetadata",
    "/tensorflow.serving.ModelService/GetModelStatus",
}


@dataclass
class Call:
    """One call in progress: its caller, and what it scored (for its log line and metrics)."""

    caller: Caller
    records: int = 0
    versions: dict[str, int] = field(default_factory=dict)
    said: list[tuple[str, str]] = field(default_factory=list)  # more trailing metadata

    @property
    def trailing(self) -> tuple[tuple[str, str], ...]:
        """The metadata the answer ends with: the request id, and what the method added."""
        return ((REQUEST_ID_KEY, self.caller.request_id), *self.said)

    def scored(self, prediction: Prediction) -> None:
        self.records, self.versions = prediction.size, prediction.versions


_current: ContextVar[Call] = ContextVar("grpc_call")


def current() -> Call:
    """The call this thread is answering (a servicer's method runs inside one)."""
    return _current.get()


class CallInterceptor(grpc.ServerInterceptor):
    """Gives each unary call its caller, checks its key, counts and logs it."""

    def __init__(self, keys: Keys | None) -> None:
        self.keys = keys
        # Each method's metric children by status code (bounded: the served methods' codes).
        self._series: dict[tuple[str, grpc.StatusCode], tuple[Any, Any, Any]] = {}

    def intercept_service(self, continuation: Callable[[Any], Any], details: Any) -> Any:
        handler = continuation(details)
        if handler is None:
            return None  # an unknown method: UNIMPLEMENTED
        decode = _tolerant(handler.request_deserializer)
        method: str = details.method
        metadata = _metadata(details.invocation_metadata)
        identity = (
            None if self.keys is None else self.keys.checker.identify(_presented_key(metadata))
        )
        refused = self._refusal(method, metadata, identity)
        if handler.unary_unary is None:  # a stream (health's Watch): its message checked only
            if refused:
                return _refusing(handler, refused)
            if handler.unary_stream is None:
                return handler
            return handler._replace(
                request_deserializer=decode, unary_stream=_decoded(handler.unary_stream)
            )
        behaviour = handler.unary_unary

        def observed(request: Any, context: grpc.ServicerContext) -> Any:
            wall, start = time.time(), time.perf_counter()
            call = Call(self._caller(metadata, identity, context))
            token = _current.set(call)
            context.set_trailing_metadata(call.trailing)  # every answer says its request id
            try:
                if refused:
                    abort_with(context, refused, call.trailing)
                if isinstance(request, Undecodable):
                    abort_with(context, request.error(method), call.trailing)
                return behaviour(request, context)
            finally:
                _current.reset(token)
                self._observe(method, context, call, wall, time.perf_counter() - start)

        return grpc.unary_unary_rpc_method_handler(
            observed,
            # A call without a valid key is refused before its message is decoded: no work for it.
            request_deserializer=None if refused else decode,
            response_serializer=handler.response_serializer,
        )

    def _refusal(
        self, method: str, metadata: dict[str, str], identity: str | None
    ) -> ServiceError | None:
        """Why a call is refused before its message is read: no valid key, or a key whose
        role does not predict (None: it is not)."""
        if self.keys is None or method in OPEN_METHODS:
            return None
        if identity is None:
            return _unauthenticated(_presents_key(metadata))
        holder = self.keys.holder(identity)
        if holder.role == CLIENT or method in READING_METHODS:
            return None
        return Forbidden(
            f"API key {holder.shown!r} has the role {holder.role!r}: {method} is for client keys",
            {"authorization": [f"The {holder.role} role does not reach this method."]},
        )

    def _caller(
        self, metadata: dict[str, str], identity: str | None, context: grpc.ServicerContext
    ) -> Caller:
        remaining = context.time_remaining()
        deadline = None if remaining is None else time.monotonic() + remaining
        request_id = request_id_from(metadata.get(REQUEST_ID_KEY, ""))
        if self.keys is None:
            return Caller(request_id, None, reads_all=True, deadline=deadline)
        if identity is None:
            return Caller(request_id, None, reads_all=False, deadline=deadline)
        holder = self.keys.holder(identity)
        return Caller(request_id, identity, self.keys.reads_all(identity), deadline, holder.name)

    def _observe(
        self, method: str, context: grpc.ServicerContext, call: Call, wall: float, seconds: float
    ) -> None:
        code = context.code() or grpc.StatusCode.OK
        series = self._series.get((method, code))
        if series is None:  # a labels() lookup costs microseconds: once per method and code
            service, _, name = method.lstrip("/").partition("/")
            series = self._series[(method, code)] = (
                metrics.GRPC_HANDLED.labels(service, name, code.name),
                metrics.GRPC_HANDLING_SECONDS.labels(service, name),
                metrics.REQUEST_RECORDS.labels(method),
            )
        handled, duration, records = series
        handled.inc()
        duration.observe(seconds)
        if call.records:
            records.observe(call.records)
        access_log.write_call(
            method,
            code.name,
            _peer_address(context.peer()),
            call.caller.request_id,
            wall,
            seconds,
            call.records,
            call.versions,
        )


@dataclass(frozen=True)
class Undecodable:
    """A message that is not the method's request type (grpc itself would answer INTERNAL)."""

    reason: str

    def error(self, method: str) -> InvalidInput:
        name = method.rsplit("/", 1)[-1]
        return InvalidInput(
            f"The {name} request is not a valid message: {self.reason}",
            {"message": [f"Not a valid {name} request."]},
        )


def _tolerant(decode: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """The method's deserializer, answering an Undecodable instead of raising."""
    if decode is None:
        return None

    def decoded(message: bytes) -> Any:
        try:
            return decode(message)
        except Exception as exc:  # protobuf's DecodeError, or invalid UTF-8 in a string
            return Undecodable(type(exc).__name__ + ": " + str(exc)[:200])

    return decoded


def _decoded(behaviour: Callable[..., Any]) -> Callable[..., Any]:
    """A stream's behaviour that refuses an undecodable message with INVALID_ARGUMENT (keeping
    the behaviour's attributes: grpc reads its non-blocking flags from them)."""

    @functools.wraps(behaviour)
    def checked(request: Any, context: grpc.ServicerContext, *args: Any, **kwargs: Any) -> Any:
        if isinstance(request, Undecodable):
            abort_with(context, request.error("Watch"))
        return behaviour(request, context, *args, **kwargs)

    return checked


def _metadata(entries: Any) -> dict[str, str]:
    """A call's text metadata (binary `-bin` entries are not read)."""
    return {key: value for key, value in entries or () if isinstance(value, str)}


def _presents_key(metadata: dict[str, str]) -> bool:
    return bool(metadata.get("authorization") or metadata.get("x-api-key"))


def _refusing(handler: Any, error: ServiceError) -> Any:
    """A stream method's handler of the same kind that refuses the call, its messages unread."""

    def refuse(request: Any, context: grpc.ServicerContext) -> Any:
        abort_with(context, error)

    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(refuse)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(refuse)
    return grpc.stream_stream_rpc_method_handler(refuse)


def _presented_key(metadata: dict[str, str]) -> str:
    scheme, _, token = metadata.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return metadata.get("x-api-key", "").strip()


def _unauthenticated(presented: bool) -> NotAuthenticated:
    message = "Invalid API key" if presented else "Missing API key"
    return NotAuthenticated(
        f"{message}: send metadata 'authorization: Bearer <key>' or 'x-api-key: <key>'",
        {"authorization": [message + "."]},
    )


def _peer_address(peer: str) -> str | None:
    """The client's address from grpc's peer string (`ipv4:127.0.0.1:5000`, `ipv6:[::1]:5000`)."""
    kind, _, rest = peer.partition(":")
    if kind in ("ipv4", "ipv6"):
        return rest.rpartition(":")[0].strip("[]") or None
    return kind or None
