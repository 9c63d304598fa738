"""How values travel: the tensor dtype of each feature type, and its numpy equivalent."""

from __future__ import annotations

from typing import Any

import numpy as np

# The signature input dtype each declared feature type must arrive as (the serving contract).
TENSOR_DTYPE_BY_FEATURE_TYPE: dict[str, str] = {
    "integer": "int64",
    "number": "float64",
    "boolean": "bool",
    "category": "string",
}
# numpy's form of each tensor dtype; strings stay Python objects (TensorFlow encodes them).
NUMPY_DTYPES: dict[str, Any] = {
    "int64": np.int64,
    "float64": np.float64,
    "float32": np.float32,
    "bool": np.bool_,
    "string": object,
}


def numpy_dtype(feature_type: str) -> Any:
    """Return the numpy dtype a column of this feature type is held in."""
    return NUMPY_DTYPES[TENSOR_DTYPE_BY_FEATURE_TYPE[feature_type]]
