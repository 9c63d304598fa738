"""TensorFlow Serving's published messages, without TensorFlow.

Their descriptors are vendored (published/tensorflow_serving.binpb: TensorFlow Serving's
PredictionService and ModelService definitions and what they import, as tensorflow-serving-api
2.21.0 compiles them; published/NOTICE) and loaded into a pool of their own, so a process that
also imports TensorFlow's copies never sees two definitions of one name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

DESCRIPTORS = Path(__file__).parent / "published" / "tensorflow_serving.binpb"


def _pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    for file in descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTORS.read_bytes()).file:
        pool.AddSerializedFile(file.SerializeToString())
    return pool


POOL = _pool()


def _message(name: str) -> Any:
    return message_factory.GetMessageClass(POOL.FindMessageTypeByName(name))


PredictRequest = _message("tensorflow.serving.PredictRequest")
PredictResponse = _message("tensorflow.serving.PredictResponse")
GetModelMetadataRequest = _message("tensorflow.serving.GetModelMetadataRequest")
GetModelMetadataResponse = _message("tensorflow.serving.GetModelMetadataResponse")
SignatureDefMap = _message("tensorflow.serving.SignatureDefMap")
GetModelStatusRequest = _message("tensorflow.serving.GetModelStatusRequest")
GetModelStatusResponse = _message("tensorflow.serving.GetModelStatusResponse")
TensorProto = _message("tensorflow.TensorProto")

DATA_TYPES = POOL.FindEnumTypeByName("tensorflow.DataType").values_by_name
VERSION_STATES = POOL.FindEnumTypeByName(
    "tensorflow.serving.ModelVersionStatus.State"
).values_by_name
ERROR_CODES = POOL.FindEnumTypeByName("tensorflow.error.Code").values_by_name
