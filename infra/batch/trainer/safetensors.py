"""safetensors files as lorafn's Go writer lays them out: compact JSON
header with __metadata__ first, tensors in the given order, the header
space-padded so the data starts 8-byte aligned. Reading accepts F32, F16
and BF16 and widens them to float32."""

import json
import struct

import numpy as np
import torch

_MAX_HEADER = 100 << 20


def read(path):
    """Returns ({name: float32 tensor}, metadata). Errors name the file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError("%s: %d bytes is too short for a safetensors file" % (path, len(data)))
    (n,) = struct.unpack("<Q", data[:8])
    if n > _MAX_HEADER or 8 + n > len(data):
        raise ValueError("%s: header length %d does not fit the %d-byte file" % (path, n, len(data)))
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except ValueError as e:
        raise ValueError("%s: header: %s" % (path, e)) from None
    if not isinstance(header, dict):
        raise ValueError("%s: header is not a JSON object" % path)
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict):
        raise ValueError("%s: __metadata__ is not a JSON object" % path)
    body = memoryview(data)[8 + n :]
    out = {}
    for name, info in header.items():
        try:
            dtype, shape = str(info["dtype"]), [int(s) for s in info["shape"]]
            start, end = (int(x) for x in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise ValueError("%s: tensor %s: malformed header entry %r" % (path, name, info)) from None
        if any(d < 0 for d in shape):
            raise ValueError("%s: tensor %s: negative dimension in %s" % (path, name, shape))
        if not 0 <= start <= end <= len(body):
            raise ValueError("%s: tensor %s: data_offsets %s outside the data" % (path, name, [start, end]))
        raw = body[start:end]
        count = int(np.prod(shape)) if shape else 1
        if dtype == "F32":
            arr = np.frombuffer(raw, dtype="<f4")
        elif dtype == "F16":
            arr = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif dtype == "BF16":
            arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise ValueError("%s: tensor %s: dtype %s is not a float type lorafn reads" % (path, name, dtype))
        if arr.size != count:
            raise ValueError("%s: tensor %s: %d values for shape %s" % (path, name, arr.size, shape))
        out[name] = torch.from_numpy(arr.astype(np.float32).reshape(shape))
    return out, meta


def encode(tensors, metadata=None):
    """Bytes of a safetensors file of [(name, tensor)] stored as F32."""
    parts = ["{"]
    if metadata:
        parts.append('"__metadata__":' + json.dumps(dict(sorted(metadata.items())), separators=(",", ":")))
    blobs, offset = [], 0
    for name, t in tensors:
        raw = t.detach().to("cpu", torch.float32).contiguous().numpy().astype("<f4").tobytes()
        entry = '{"dtype":"F32","shape":%s,"data_offsets":[%d,%d]}' % (
            json.dumps(list(t.shape), separators=(",", ":")),
            offset,
            offset + len(raw),
        )
        if len(parts) > 1:
            parts.append(",")
        parts.append(json.dumps(name) + ":" + entry)
        blobs.append(raw)
        offset += len(raw)
    parts.append("}")
    header = "".join(parts).encode("utf-8")
    header += b" " * ((8 - (8 + len(header)) % 8) % 8)
    return struct.pack("<Q", len(header)) + header + b"".join(blobs)
