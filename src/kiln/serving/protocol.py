"""Open Inference Protocol V2 (and V1) request parsing and response encoding.

JSON tensors and Triton's binary tensor extension (`Inference-Header-Content-Length`), which
tritonclient uses by default. Every malformed request becomes a RequestError naming the field.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from kiln.errors import RequestError
from kiln.serving.datatypes import TO_NUMPY, from_numpy

JSON = "application/json"
BINARY_HEADER = "inference-header-content-length"


@dataclass
class Tensor:
    name: str
    array: np.ndarray


@dataclass
class InferRequest:
    inputs: list[Tensor]
    outputs: list[str]  # requested output names; empty means the model's default
    binary_outputs: set[str] = field(default_factory=set)
    binary_default: bool = False
    id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)

    def wants_binary(self, name: str) -> bool:
        return name in self.binary_outputs or self.binary_default


def _loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise RequestError(f"the request body is not valid JSON: {e}") from None


# Far above any real request, far below what would make numpy allocate or overflow.
MAX_ELEMENTS = 1 << 31
MAX_DIMS = 32


def _shape(value: Any, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in value
    ):
        raise RequestError(f"{where}.shape must be a list of non-negative integers",
                           where=f"{where}.shape")
    if len(value) > MAX_DIMS:
        raise RequestError(f"{where}.shape has {len(value)} dimensions; at most {MAX_DIMS}",
                           where=f"{where}.shape")
    n = 1
    for d in value:
        n *= d
        if n > MAX_ELEMENTS:
            raise RequestError(f"{where}.shape {value} asks for more than {MAX_ELEMENTS} "
                               "values", where=f"{where}.shape")
    if 0 in value:
        raise RequestError(f"{where}.shape {value} holds no values", where=f"{where}.shape",
                           hint="send at least one row")
    return tuple(value)


def _check_range(arr: np.ndarray, datatype: str, where: str) -> None:
    """Values the datatype cannot hold are refused: numpy would wrap an INT8 1000 to -24, or
    turn an FP32 1e39 into inf, and the model would predict on a value nobody sent."""
    target = TO_NUMPY[datatype]
    if arr.size == 0 or arr.dtype.kind not in "iuf" or target.kind == "b":
        return
    if target.kind in "iu":
        info = np.iinfo(target)
        lo, hi = arr.min(), arr.max()
        if lo < info.min or hi > info.max:
            raise RequestError(f"{where}.data holds {lo if lo < info.min else hi}, outside "
                               f"{datatype}'s range {info.min}..{info.max}",
                               where=f"{where}.data", hint="send a wider datatype")
    elif target.kind == "f" and arr.dtype.itemsize > target.itemsize:
        finite = arr[np.isfinite(arr)]
        if finite.size and np.abs(finite).max() > np.finfo(target).max:
            raise RequestError(f"{where}.data holds a value beyond {datatype}'s range "
                               f"(±{float(np.finfo(target).max):.3g})",
                               where=f"{where}.data", hint="send FP64")


def _array_from_json(data: Any, datatype: str, shape: tuple[int, ...], where: str) -> np.ndarray:
    if datatype == "BYTES":
        flat = np.array(_flatten_strings(data, where), dtype=object)
    else:
        try:
            arr = np.asarray(data)
        except ValueError:
            raise RequestError(f"{where}.data is ragged: nested lists of different lengths",
                               where=f"{where}.data") from None
        kind = arr.dtype.kind
        # The target kind must be able to hold what was sent: no silent float → int truncation.
        ok = {"b": "b", "i": "biu", "u": "biu", "f": "biuf"}[TO_NUMPY[datatype].kind]
        if kind not in ok or arr.dtype == object:
            raise RequestError(f"{where}.data does not match datatype {datatype}",
                               where=f"{where}.data", hint="send numbers of the declared type")
        _check_range(arr, datatype, where)
        flat = arr.astype(TO_NUMPY[datatype], copy=False).reshape(-1)
    expected = int(np.prod(shape)) if shape else 1
    if flat.size != expected:
        raise RequestError(
            f"{where} has {flat.size} values but shape {list(shape)} needs {expected}",
            where=f"{where}.data")
    return flat.reshape(shape)


def _flatten_strings(data: Any, where: str) -> list[Any]:
    out: list[Any] = []
    stack = [data] if not isinstance(data, list) else list(reversed(data))
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, str | bytes):
            out.append(item)
        else:
            raise RequestError(f"{where}.data must hold strings for datatype BYTES",
                               where=f"{where}.data")
    return out


def _array_from_binary(raw: memoryview, datatype: str, shape: tuple[int, ...],
                       where: str) -> np.ndarray:
    if datatype == "BYTES":
        items: list[bytes] = []
        pos = 0
        while pos < len(raw):
            if pos + 4 > len(raw):
                raise RequestError(f"{where}: truncated BYTES element", where=where)
            (n,) = struct.unpack_from("<I", raw, pos)
            items.append(bytes(raw[pos + 4:pos + 4 + n]))
            pos += 4 + n
        arr = np.array(items, dtype=object)
    else:
        dtype = TO_NUMPY[datatype]
        if len(raw) % dtype.itemsize:
            raise RequestError(f"{where}: {len(raw)} bytes is not a whole number of {datatype}",
                               where=where)
        arr = np.frombuffer(raw, dtype=dtype)
    expected = int(np.prod(shape)) if shape else 1
    if arr.size != expected:
        raise RequestError(f"{where} has {arr.size} values but shape {list(shape)} needs "
                           f"{expected}", where=where)
    return arr.reshape(shape)


def parse_infer(body: bytes, header_length: int | None = None) -> InferRequest:
    """A V2 infer request body (JSON, or JSON header plus binary tensors) → tensors."""
    if header_length is not None:
        if not 0 < header_length <= len(body):
            raise RequestError(f"Inference-Header-Content-Length {header_length} does not fit "
                               f"a body of {len(body)} bytes")
        doc, binary = _loads(body[:header_length]), memoryview(body)[header_length:]
    else:
        doc, binary = _loads(body), memoryview(b"")
    if not isinstance(doc, dict):
        raise RequestError("the request must be a JSON object with 'inputs'")
    raw_inputs = doc.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise RequestError("'inputs' must be a non-empty list of tensors", where="inputs",
                           hint='e.g. {"inputs": [{"name": "input-0", "shape": [1, 4], '
                                '"datatype": "FP64", "data": [1, 2, 3, 4]}]}')
    inputs: list[Tensor] = []
    offset = 0
    seen: set[str] = set()
    for i, t in enumerate(raw_inputs):
        where = f"inputs[{i}]"
        if not isinstance(t, dict):
            raise RequestError(f"{where} must be an object", where=where)
        name = t.get("name")
        if not isinstance(name, str) or not name:
            raise RequestError(f"{where}.name must be a non-empty string", where=f"{where}.name")
        if name in seen:
            raise RequestError(f"input '{name}' is given twice", where=f"{where}.name")
        seen.add(name)
        datatype = t.get("datatype")
        if datatype not in TO_NUMPY:
            raise RequestError(f"{where}.datatype {datatype!r} is not a V2 datatype",
                               where=f"{where}.datatype", hint=", ".join(TO_NUMPY))
        shape = _shape(t.get("shape"), where)
        params = t.get("parameters") or {}
        if not isinstance(params, dict):
            raise RequestError(f"{where}.parameters must be an object",
                               where=f"{where}.parameters")
        size = params.get("binary_data_size")
        if size is not None:
            if not isinstance(size, int) or size < 0 or offset + size > len(binary):
                raise RequestError(f"{where}.parameters.binary_data_size does not fit the body",
                                   where=f"{where}.parameters")
            arr = _array_from_binary(binary[offset:offset + size], datatype, shape, where)
            offset += size
        elif "data" in t:
            arr = _array_from_json(t["data"], datatype, shape, where)
        else:
            raise RequestError(f"{where} has no 'data'", where=where)
        inputs.append(Tensor(name, arr))
    outputs: list[str] = []
    binary_outputs: set[str] = set()
    raw_outputs = doc.get("outputs") or []
    if not isinstance(raw_outputs, list):
        raise RequestError("'outputs' must be a list", where="outputs")
    for i, o in enumerate(raw_outputs):
        if not isinstance(o, dict) or not isinstance(o.get("name"), str):
            raise RequestError(f"outputs[{i}] must be an object with a 'name'",
                               where=f"outputs[{i}]")
        outputs.append(o["name"])
        oparams = o.get("parameters") or {}
        if not isinstance(oparams, dict):
            raise RequestError(f"outputs[{i}].parameters must be an object",
                               where=f"outputs[{i}].parameters")
        if oparams.get("binary_data"):
            binary_outputs.add(o["name"])
    parameters = doc.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise RequestError("'parameters' must be an object", where="parameters")
    rid = doc.get("id")
    return InferRequest(inputs, outputs, binary_outputs,
                        bool(parameters.get("binary_data_output")),
                        rid if isinstance(rid, str) else None, parameters)


def _json_data(arr: np.ndarray) -> Any:
    if arr.dtype.kind in "OUS":
        return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                for v in arr.reshape(-1)]
    return np.ascontiguousarray(arr).reshape(-1)  # orjson writes numpy arrays natively


def encode_infer(model: str, version: str | None, req: InferRequest,
                 outputs: dict[str, np.ndarray]) -> tuple[bytes, dict[str, str]]:
    """The V2 response; binary outputs go after the JSON header when the client asked."""
    out_docs: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    for name, arr in outputs.items():
        d: dict[str, Any] = {"name": name, "shape": list(arr.shape),
                             "datatype": from_numpy(arr.dtype)}
        if req.wants_binary(name):
            blob = _binary(arr)
            d["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            d["data"] = _json_data(arr)
        out_docs.append(d)
    doc: dict[str, Any] = {"model_name": model, "outputs": out_docs}
    if version is not None:
        doc["model_version"] = version
    if req.id is not None:
        doc["id"] = req.id
    header = orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)
    if not blobs:
        return header, {}
    return header + b"".join(blobs), {BINARY_HEADER: str(len(header))}


def _binary(arr: np.ndarray) -> bytes:
    if arr.dtype.kind in "OUS":
        parts = []
        for v in arr.reshape(-1):
            b = v if isinstance(v, bytes) else str(v).encode()
            parts.append(struct.pack("<I", len(b)) + b)
        return b"".join(parts)
    dtype = arr.dtype.newbyteorder("<") if arr.dtype.byteorder == ">" else arr.dtype
    return np.ascontiguousarray(arr, dtype=dtype).tobytes()


def parse_v1(body: bytes) -> np.ndarray:
    """A V1 predict body: {"instances": [...]} (or TF-serving's {"inputs": [...]})."""
    doc = _loads(body)
    if not isinstance(doc, dict):
        raise RequestError("the request must be a JSON object with 'instances'")
    instances = doc.get("instances", doc.get("inputs"))
    if not isinstance(instances, list) or not instances:
        raise RequestError("'instances' must be a non-empty list", where="instances",
                           hint='e.g. {"instances": [[6.8, 2.8, 4.8, 1.4]]}')
    try:
        arr = np.asarray(instances)
    except ValueError:
        raise RequestError("'instances' is ragged: rows of different lengths",
                           where="instances") from None
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise RequestError("'instances' must hold numbers", where="instances")
    return arr


def encode_v1(outputs: dict[str, np.ndarray]) -> bytes:
    first = next(iter(outputs.values()))
    if first.dtype.kind in "OUS":
        first = first.astype(str).tolist()
    return orjson.dumps({"predictions": first}, option=orjson.OPT_SERIALIZE_NUMPY)


def error_body(message: str) -> bytes:
    return orjson.dumps({"error": message})


def dumps(doc: Any) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)
