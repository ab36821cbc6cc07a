"""Request parsing and response building: Open Inference Protocol v2 and TF-Serving REST.

Everything a client sends is checked here before any array is made: JSON (UTF-8, no
NaN/Infinity tokens, bounded nesting), tensor names against the model's signature,
datatypes, shapes (rank, the non-batch sizes, a batch between 1 and max_batch_size, so a
shape whose product would overflow is refused by its sizes), element counts, value kinds
(numbers, not strings or null), integer ranges and finiteness. Each failure raises
`ProtocolError(status, message)`; the message names the field and never a path.

OIP v2 (https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/):
JSON tensors with flat or nested `data`, and Triton's binary tensor extension
(`Inference-Header-Content-Length`; inputs with `parameters.binary_data_size`; outputs in
binary when asked by `binary_data: true` per output or `binary_data_output: true` for the
request, which is what tritonclient sends by default) and its classification extension
(`parameters.classification: k` on a requested output gives "score:index[:label]" strings).

TF-Serving REST (https://www.tensorflow.org/tfx/serving/api_rest): `instances` (row
format; a list of values, or of {input name: value} objects) and `inputs` (columnar; a
value, or {input name: value}); answers `predictions` and `outputs` in the same forms.
"""
from __future__ import annotations

import json
import math
import zlib

import numpy as np

from .package import Package, TensorSpec

__all__ = ["ProtocolError", "parse_json", "parse_v2", "V2Request", "v2_response",
           "parse_tf", "tf_response", "v2_model_metadata", "tf_metadata", "tf_status"]

BINARY_HEADER = "inference-header-content-length"
_TF_DTYPES = {"BOOL": "DT_BOOL", "UINT8": "DT_UINT8", "UINT16": "DT_UINT16",
              "UINT32": "DT_UINT32", "UINT64": "DT_UINT64", "INT8": "DT_INT8",
              "INT16": "DT_INT16", "INT32": "DT_INT32", "INT64": "DT_INT64",
              "FP16": "DT_HALF", "FP32": "DT_FLOAT", "FP64": "DT_DOUBLE", "BYTES": "DT_STRING"}
JSON_HINT = ("send JSON tensors instead: {\"inputs\": [{\"name\", \"shape\", \"datatype\", "
             "\"data\"}]} with Content-Type application/json (tritonclient: "
             "InferInput.set_data_from_numpy(x, binary_data=False))")


class ProtocolError(Exception):
    """A request the server refuses: HTTP `status` and a message for the client."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def bad(message: str, status: int = 400):
    raise ProtocolError(status, message)


# --- JSON ---------------------------------------------------------------------------------

def _no_constant(token):
    raise ValueError(f"{token} is not allowed (JSON has no NaN or Infinity; send finite "
                     "numbers)")


_DECODER = json.JSONDecoder(parse_constant=_no_constant)  # built once: loads() would per call


def parse_json(raw: bytes, what: str = "request body"):
    """Bytes -> JSON value; 400 for invalid UTF-8, invalid JSON, NaN/Infinity, or nesting
    deeper than Python's recursion limit (json refuses it without crashing)."""
    if not raw:
        bad(f"{what} is empty; expected JSON")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        bad(f"{what} is not valid UTF-8 (byte {e.start})")
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as e:
        bad(f"{what} is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}")
    except ValueError as e:
        bad(f"{what}: {e}")
    except RecursionError:  # json's C scanner stops at the recursion limit, cleanly
        bad(f"{what} nests arrays or objects too deeply")


def decode_body(body: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo Content-Encoding gzip/deflate (what tritonclient can send), never inflating
    past `limit` bytes (a zip bomb gets 413)."""
    if not encoding or encoding == "identity":
        return body
    if encoding not in ("gzip", "deflate"):
        bad(f"Content-Encoding {encoding!r} is not supported (use gzip, deflate or none)",
            415)
    d = zlib.decompressobj(31 if encoding == "gzip" else 15)
    try:
        out = d.decompress(body, limit + 1)
    except zlib.error as e:
        bad(f"request body is not valid {encoding} data: {e}")
    if len(out) > limit:
        bad(f"request body inflates to more than {limit} bytes", 413)
    return out


# --- tensors from JSON --------------------------------------------------------------------

def _check_shape(spec: TensorSpec, shape, max_batch: int, where: str) -> tuple:
    if (not isinstance(shape, list) or not all(type(d) is int for d in shape)):
        bad(f"{where}: 'shape' must be a list of integers, got {_short(shape)}")
    if len(shape) != len(spec.shape):
        bad(f"{where}: shape {shape} has {len(shape)} dimensions; input {spec.name!r} "
            f"takes {len(spec.shape)}: {_shape_text(spec.shape)}")
    batch = shape[0]
    if batch < 1:
        bad(f"{where}: batch size {batch} (shape {shape}); send at least 1 row")
    if batch > max_batch:
        bad(f"{where}: batch size {batch} is above the server's max_batch_size "
            f"{max_batch}; split the request")
    if tuple(shape[1:]) != spec.shape[1:]:
        bad(f"{where}: shape {shape} does not match input {spec.name!r} "
            f"{_shape_text(spec.shape)}")
    return tuple(shape)


def _shape_text(shape) -> str:
    return "[" + ", ".join("batch" if d == -1 else str(d) for d in shape) + "]"


def _short(value) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def _name(value) -> str:
    return repr(value) if isinstance(value, str) and len(value) <= 60 else _short(value)


def _numbers(value, spec: TensorSpec, shape: tuple, where: str) -> np.ndarray:
    """A JSON value (nested lists or a flat list) -> an array of spec's dtype and `shape`,
    after checking the count, the value kinds, ranges and finiteness."""
    n = math.prod(shape)  # bounded: every size but the batch is the model's
    if not isinstance(value, list):
        if len(shape) == 1 and n == 1 and isinstance(value, (int, float, bool)):
            value = [value]
        else:
            bad(f"{where}: expected a list of {n} values for shape {list(shape)}, got "
                f"{_short(value)}")
    try:
        arr = np.array(value)
    except (ValueError, OverflowError):  # ragged nesting, or an int beyond 64 bits
        bad(f"{where}: data is not a regular array of numbers for shape {list(shape)} "
            "(ragged nesting, or a value out of range)")
    if arr.ndim == 1 or arr.size == 0:
        if arr.size != n:
            bad(f"{where}: {arr.size} values for shape {list(shape)}, which holds {n}")
    elif arr.shape != shape:
        bad(f"{where}: nested data has shape {list(arr.shape)}, but 'shape' says "
            f"{list(shape)}")
    return _convert(arr.reshape(shape), spec, where)


def _convert(arr: np.ndarray, spec: TensorSpec, where: str) -> np.ndarray:
    dt = spec.dtype
    kind = arr.dtype.kind
    if dt.kind == "b":
        if kind != "b":
            bad(f"{where}: {spec.datatype} data must be true/false values")
        return arr
    if kind not in "biuf" or (kind == "b" and dt.kind != "b"):
        what = {"U": "strings", "O": "null, objects or mixed values"}.get(kind, arr.dtype)
        bad(f"{where}: data holds {what}; {spec.datatype} takes numbers")
    if dt.kind in "iu":
        if kind == "f":
            bad(f"{where}: {spec.datatype} data must be integers, got fractional numbers")
        info = np.iinfo(dt)
        if arr.size and (arr.min() < info.min or arr.max() > info.max):
            bad(f"{where}: values out of range for {spec.datatype} "
                f"[{info.min}, {info.max}]")
        return arr.astype(dt, copy=False)
    with np.errstate(over="ignore"):
        out = arr.astype(dt, copy=False)
    if not np.isfinite(out).all():
        bad(f"{where}: values must be finite; got NaN or Infinity, or a number too large "
            f"for {spec.datatype}")
    return out


def _from_bytes(buf, spec: TensorSpec, shape: tuple, where: str) -> np.ndarray:
    n = math.prod(shape)
    need = n * spec.dtype.itemsize
    if len(buf) != need:
        bad(f"{where}: binary_data_size {len(buf)} bytes, but shape {list(shape)} of "
            f"{spec.datatype} takes {need}")
    arr = np.frombuffer(buf, dtype=spec.dtype.newbyteorder("<")).reshape(shape)
    arr = arr.astype(spec.dtype)  # native byte order, writable, owns its memory
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        bad(f"{where}: values must be finite; got NaN or Infinity")
    return arr


# --- OIP v2 -------------------------------------------------------------------------------

class V2Request:
    """A validated inference request: arrays in the package's input order, the request
    id, and the outputs to return as [(spec, binary, classification k or 0)]."""
    __slots__ = ("inputs", "id", "outputs", "rows")

    def __init__(self, inputs, id_, outputs, rows):
        self.inputs, self.id, self.outputs, self.rows = inputs, id_, outputs, rows


def _obj(value, where: str) -> dict:
    if not isinstance(value, dict):
        bad(f"{where} must be a JSON object, got {_short(value)}")
    return value


def _params(obj: dict, where: str) -> dict:
    p = obj.get("parameters")
    if p is None:
        return {}
    return _obj(p, f"{where}.parameters")


def parse_v2(body: bytes, header_length, pkg: Package, max_batch: int) -> V2Request:
    """An OIP v2 infer body -> V2Request. `header_length` is the
    Inference-Header-Content-Length header (None for a JSON-only body)."""
    binary = b""
    if header_length is not None:
        try:
            hl = int(header_length)
        except ValueError:
            hl = -1
        if not 0 < hl <= len(body):
            bad(f"Inference-Header-Content-Length {header_length!r} must be an integer "
                f"between 1 and the body size {len(body)}")
        body, binary = body[:hl], memoryview(body)[hl:]
    req = _obj(parse_json(body, "inference request"), "inference request")
    rid = req.get("id")
    if rid is not None and not isinstance(rid, str):
        bad(f"'id' must be a string, got {_short(rid)}")
    params = _params(req, "request")
    items = req.get("inputs")
    if not isinstance(items, list) or not items:
        bad("'inputs' must be a non-empty list of {name, shape, datatype, data}")
    specs = {s.name: s for s in pkg.inputs}
    arrays, offset = {}, 0
    for i, item in enumerate(items):
        where = f"inputs[{i}]"
        item = _obj(item, where)
        name = item.get("name")
        if name not in specs:
            bad(f"{where}: unknown input {_name(name)}; model {pkg.name!r} takes "
                f"{', '.join(repr(s) for s in specs)}")
        where = f"input {name!r}"
        if name in arrays:
            bad(f"{where} given twice")
        spec = specs[name]
        if item.get("datatype") != spec.datatype:
            bad(f"{where}: datatype {_name(item.get('datatype'))}; the model takes "
                f"{spec.datatype}")
        shape = _check_shape(spec, item.get("shape"), max_batch, where)
        ip = _params(item, where)
        size = ip.get("binary_data_size")
        if size is not None:
            if header_length is None:
                bad(f"{where}: binary_data_size without an Inference-Header-Content-Length "
                    f"header; {JSON_HINT}")
            if type(size) is not int or size < 0 or offset + size > len(binary):
                bad(f"{where}: binary_data_size {_short(size)} runs past the "
                    f"{len(binary)} bytes of binary data")
            arrays[name] = _from_bytes(binary[offset:offset + size], spec, shape, where)
            offset += size
        elif "data" in item:
            arrays[name] = _numbers(item["data"], spec, shape, where)
        else:
            bad(f"{where} has no 'data' (nor parameters.binary_data_size)")
    if offset != len(binary):
        bad(f"{len(binary) - offset} bytes of binary data after the JSON header are not "
            "claimed by any input's binary_data_size")
    missing = [s.name for s in pkg.inputs if s.name not in arrays]
    if missing:
        bad(f"missing inputs {missing}; model {pkg.name!r} takes "
            f"{[s.name for s in pkg.inputs]}")
    rows = {a.shape[0] for a in arrays.values()}
    if len(rows) > 1:
        bad(f"inputs have different batch sizes {sorted(rows)}")
    outputs = _requested_outputs(req, params, pkg)
    return V2Request([arrays[s.name] for s in pkg.inputs], rid, outputs, rows.pop())


def _requested_outputs(req: dict, params: dict, pkg: Package) -> list:
    default_binary = params.get("binary_data_output", False)
    if not isinstance(default_binary, bool):
        bad("parameters.binary_data_output must be true or false")
    specs = {s.name: s for s in pkg.outputs}
    wanted = req.get("outputs")
    if wanted is None:
        return [(s, default_binary, 0) for s in pkg.outputs]
    if not isinstance(wanted, list):
        bad("'outputs' must be a list of {name, parameters}")
    out, seen = [], set()
    for i, item in enumerate(wanted):
        item = _obj(item, f"outputs[{i}]")
        name = item.get("name")
        if name not in specs:
            bad(f"outputs[{i}]: unknown output {_name(name)}; model {pkg.name!r} gives "
                f"{', '.join(repr(s) for s in specs)}")
        if name in seen:
            bad(f"output {name!r} requested twice")
        seen.add(name)
        op = _params(item, f"outputs[{i}]")
        binary = op.get("binary_data", default_binary)
        if not isinstance(binary, bool):
            bad(f"output {name!r}: parameters.binary_data must be true or false")
        k = op.get("classification", 0)
        if type(k) is not int or k < 0:
            bad(f"output {name!r}: parameters.classification must be a non-negative "
                "integer")
        spec = specs[name]
        if k and len(spec.shape) != 2:
            bad(f"output {name!r}: classification needs an output of shape [batch, "
                f"classes], this one is {_shape_text(spec.shape)}")
        out.append((spec, binary, min(k, spec.shape[-1]) if k else 0))
    return out


def _classify(arr: np.ndarray, k: int, labels) -> np.ndarray:
    """Triton's classification extension: the top k of each row as 'score:index[:label]'
    strings, shape (B, k)."""
    top = np.argsort(-arr, axis=1, kind="stable")[:, :k]
    rows = []
    for r, idx in enumerate(top.tolist()):
        row = []
        for c in idx:
            s = f"{float(arr[r, c]):f}:{c}"
            row.append(f"{s}:{labels[c]}" if labels and c < len(labels) else s)
        rows.append(row)
    return np.array(rows, dtype=object).reshape(top.shape)


def _bytes_payload(arr: np.ndarray) -> bytes:
    parts = []
    for s in arr.reshape(-1).tolist():
        b = s.encode("utf-8")
        parts += [len(b).to_bytes(4, "little"), b]
    return b"".join(parts)


def v2_response(req: V2Request, results: list, pkg: Package, name: str,
                version: int) -> tuple[bytes, dict]:
    """(body, headers) of an infer response: JSON, or JSON header + binary tensors."""
    by_name = {s.name: r for s, r in zip(pkg.outputs, results)}
    outs, blobs = [], []
    for spec, binary, k in req.outputs:
        arr = by_name[spec.name]
        datatype = spec.datatype
        if k:
            arr, datatype = _classify(arr, k, pkg.labels), "BYTES"
        entry = {"name": spec.name, "datatype": datatype, "shape": list(arr.shape)}
        if binary:
            blob = (_bytes_payload(arr) if datatype == "BYTES" else
                    np.ascontiguousarray(arr, arr.dtype.newbyteorder("<")).tobytes())
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            entry["data"] = arr.reshape(-1).tolist()
        outs.append(entry)
    doc = {"model_name": name, "model_version": str(version), "outputs": outs}
    if req.id is not None:
        doc["id"] = req.id
    head = json.dumps(doc, separators=(",", ":")).encode()
    if not blobs:
        return head, {"content-type": "application/json"}
    return head + b"".join(blobs), {"content-type": "application/octet-stream",
                                    "inference-header-content-length": str(len(head))}


def v2_model_metadata(name: str, versions: list, pkg: Package) -> dict:
    """OIP model metadata; `parameters` adds Fathom's preprocessing and labels."""
    return {"name": name, "versions": [str(v) for v in versions], "platform": pkg.platform,
            "inputs": [s.to_json() for s in pkg.inputs],
            "outputs": [s.to_json() for s in pkg.outputs],
            "parameters": {"preprocessing": pkg.preprocessing, "labels": pkg.labels}}


def v2_model_config(name: str, pkg: Package, max_batch: int) -> dict:
    """Triton's model configuration (what tritonclient.get_model_config reads): the
    batch dimension is implied by max_batch_size, so dims leave it out."""
    def io(s):
        return {"name": s.name, "data_type": f"TYPE_{s.datatype}", "dims": list(s.shape[1:])}
    return {"name": name, "platform": pkg.platform, "backend": "fathom",
            "max_batch_size": max_batch, "input": [io(s) for s in pkg.inputs],
            "output": [io(s) for s in pkg.outputs],
            "dynamic_batching": {}}


# --- TF-Serving ---------------------------------------------------------------------------

def parse_tf(body: bytes, pkg: Package, max_batch: int) -> tuple[list, str]:
    """A TF-Serving :predict body -> (arrays in input order, 'row' | 'columnar')."""
    req = _obj(parse_json(body, "predict request"), "predict request")
    has_rows, has_cols = "instances" in req, "inputs" in req
    if has_rows == has_cols:
        bad("a predict request needs exactly one of 'instances' (row format) or 'inputs' "
            "(columnar format)")
    names = [s.name for s in pkg.inputs]
    if has_rows:
        rows = req["instances"]
        if not isinstance(rows, list) or not rows:
            bad("'instances' must be a non-empty list (one entry per example)")
        if len(rows) > max_batch:
            bad(f"'instances': batch size {len(rows)} is above the server's max_batch_size "
                f"{max_batch}; split the request")
        if all(isinstance(r, dict) for r in rows):
            for i, r in enumerate(rows):
                if set(r) != set(names):
                    bad(f"instances[{i}]: keys {sorted(r)}; model {pkg.name!r} takes "
                        f"{names}")
            columns = {n: [r[n] for r in rows] for n in names}
        elif len(names) == 1 and not any(isinstance(r, dict) for r in rows):
            columns = {names[0]: rows}
        else:
            bad(f"'instances': model {pkg.name!r} takes inputs {names}; send each instance "
                "as an object {input name: value}")
        kind = "row"
    else:
        cols = req["inputs"]
        if isinstance(cols, dict):
            if set(cols) != set(names):
                bad(f"'inputs': keys {sorted(cols)}; model {pkg.name!r} takes {names}")
            columns = cols
        elif len(names) == 1:
            columns = {names[0]: cols}
        else:
            bad(f"'inputs': model {pkg.name!r} takes inputs {names}; send an object "
                "{input name: value}")
        kind = "columnar"
    arrays = []
    for spec in pkg.inputs:
        value = columns[spec.name]
        where = f"input {spec.name!r}"
        if not isinstance(value, list):
            bad(f"{where}: expected a list with one entry per example, got {_short(value)}")
        n = len(value)
        if n < 1:
            bad(f"{where}: batch size 0; send at least 1 example")
        if n > max_batch:
            bad(f"{where}: batch size {n} is above the server's max_batch_size "
                f"{max_batch}; split the request")
        shape = (n,) + spec.shape[1:]
        arr = _nested(value, spec, shape, where)
        arrays.append(arr)
    if len({a.shape[0] for a in arrays}) > 1:
        bad(f"inputs have different batch sizes {[a.shape[0] for a in arrays]}")
    return arrays, kind


def _nested(value, spec: TensorSpec, shape: tuple, where: str) -> np.ndarray:
    try:
        arr = np.array(value)
    except (ValueError, OverflowError):
        bad(f"{where}: data is not a regular array of numbers (ragged nesting, or a value "
            "out of range)")
    if arr.shape != shape:
        want = [len(value)] + list(spec.shape[1:])
        bad(f"{where}: data has shape {list(arr.shape)}; the model takes {want} "
            f"(examples x {_shape_text(spec.shape[1:])})")
    return _convert(arr, spec, where)


def tf_response(results: list, pkg: Package, kind: str) -> bytes:
    """`predictions` (row format) or `outputs` (columnar) as TF-Serving writes them."""
    names = [s.name for s in pkg.outputs]
    if kind == "row":
        if len(names) == 1:
            doc = {"predictions": results[0].tolist()}
        else:
            lists = [r.tolist() for r in results]
            doc = {"predictions": [dict(zip(names, row)) for row in zip(*lists)]}
    else:
        doc = ({"outputs": results[0].tolist()} if len(names) == 1 else
               {"outputs": {n: r.tolist() for n, r in zip(names, results)}})
    return json.dumps(doc, separators=(",", ":")).encode()


def tf_status(name: str, versions: list) -> dict:
    return {"model_version_status": [
        {"version": str(v), "state": "AVAILABLE",
         "status": {"error_code": "OK", "error_message": ""}} for v in versions]}


def tf_metadata(name: str, version: int, pkg: Package) -> dict:
    def sig(specs):
        return {s.name: {"dtype": _TF_DTYPES[s.datatype], "name": s.name,
                         "tensor_shape": {"dim": [{"size": str(d), "name": ""}
                                                  for d in s.shape],
                                          "unknown_rank": False}} for s in specs}
    return {"model_spec": {"name": name, "signature_name": "", "version": str(version)},
            "metadata": {"signature_def": {"signature_def": {"serving_default": {
                "inputs": sig(pkg.inputs), "outputs": sig(pkg.outputs),
                "method_name": "tensorflow/serving/predict"}}}}}

