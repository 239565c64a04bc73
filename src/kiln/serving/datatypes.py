"""Open Inference Protocol V2 tensor datatypes and their numpy equivalents."""

from __future__ import annotations

import numpy as np

# The protocol's names, in the order the spec lists them.
TO_NUMPY: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}
_FROM_KIND = {np.dtype(v).str: k for k, v in TO_NUMPY.items() if k != "BYTES"}


def from_numpy(dtype: np.dtype) -> str:
    """The V2 datatype for a numpy dtype; strings and objects travel as BYTES."""
    name = _FROM_KIND.get(np.dtype(dtype).newbyteorder("=").str)
    if name is not None:
        return name
    if dtype.kind in "iu":
        return "INT64"
    if dtype.kind == "f":
        return "FP64"
    return "BYTES"
