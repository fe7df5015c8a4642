"""JSON written the way lorafn's Go code writes it (encoding/json's
MarshalIndent with two spaces), so files such as trainer_state.json and
adapter_config.json come out byte for byte as the Go trainer's."""

import json
import math

import numpy as np


def go_float(x):
    """encoding/json's float64 text: shortest round-trip digits, positional
    unless |x| < 1e-6 or |x| >= 1e21, exponents without a leading zero."""
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        raise ValueError("JSON has no encoding for %r" % x)
    a = abs(x)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        s = np.format_float_scientific(x, unique=True, trim="-", exp_digits=2)
        if len(s) >= 4 and s[-4] == "e" and s[-3] == "-" and s[-2] == "0":
            s = s[:-2] + s[-1]
        return s
    return np.format_float_positional(x, unique=True, trim="-")


def _enc(v, indent, level):
    pad = indent * (level + 1)
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return go_float(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    if isinstance(v, dict):
        if not v:
            return "{}"
        items = ["%s%s: %s" % (pad, _enc(str(k), indent, level + 1), _enc(x, indent, level + 1)) for k, x in v.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent * level + "}"
    if isinstance(v, (list, tuple)):
        if not v:
            return "[]"
        items = [pad + _enc(x, indent, level + 1) for x in v]
        return "[\n" + ",\n".join(items) + "\n" + indent * level + "]"
    raise TypeError("cannot encode %r" % (v,))


def dumps(v, indent="  "):
    """MarshalIndent(v, "", indent); dict keys keep their order (sort them
    first where Go marshals a map)."""
    return _enc(v, indent, 0)

