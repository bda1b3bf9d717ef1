"""Checks a safetensors file written by rnn.c with an independent reader.

    RNN_ST_WRITE_SAMPLE=/tmp/sample.safetensors build/tests/test_safetensors
    python3 tests/ref/check_safetensors.py /tmp/sample.safetensors

The sample is save_sample() in tests/test_safetensors.c; the values below are
the same constants. Beyond the values, it checks what strict readers (the
Rust safetensors crate, serde_json) require: a UTF-8 JSON header padded with
spaces to a multiple of 8, integer shapes and offsets, string metadata, and
tensors laid out back to back over the whole data section. Exits non-zero on
any mismatch. Needs numpy.
"""
import json
import struct
import sys

import numpy as np

NP = {"F32": "<f4", "I32": "<i4", "I64": "<i8", "F16": "<f2", "F64": "<f8", "BF16": "<u2"}

WANT = {
    "rnn.weight_ih_l0": ("F32", [2, 3], np.array([0.5, -1.25, 3.0, 0.1, -0.0, 1e-30], np.float32).reshape(2, 3)),
    "ids": ("I32", [5], np.array([0, -1, 2147483647, -2147483648, 12345], np.int32)),
    "big_ids": ("I64", [2, 2], np.array([[-5, 0], [2147483647, -2147483648]], np.int64)),
    "bf": ("BF16", [3], np.array([0x3F80, 0xC040, 0x7F80], np.uint16)),
    "half": ("F16", [5], np.array([1.0, -2.0, 2.0**-24, 65504.0, 0.333251953125], np.float16)),
    "dbl": ("F64", [2], np.array([0.1, -1e300], np.float64)),
    "scalar": ("F32", [], np.array(7.5, np.float32)),
    "empty": ("F32", [0], np.zeros((0,), np.float32)),
    "empty3": ("I64", [2, 0, 3], np.zeros((2, 0, 3), np.int64)),
}
META = {
    "format": "rnn.c",
    "config": '{"task": "lm", "vocab": ["a", "\\n"]}',
    "note": 'h\u00e9llo "quoted"\n\ttab \u20ac',
}


def main(path):
    data = open(path, "rb").read()
    errors = []
    (n,) = struct.unpack("<Q", data[:8])
    raw = data[8:8 + n]
    if n % 8:
        errors.append(f"header length {n} is not a multiple of 8")
    text = raw.decode("utf-8")  # raises on invalid UTF-8
    if not text.startswith("{") or not text.rstrip(" ").endswith("}"):
        errors.append("header padding is not trailing spaces")
    header = json.loads(text)
    meta = header.pop("__metadata__", {})
    if meta != META:
        errors.append(f"metadata {meta!r} != {META!r}")
    if list(header) != list(WANT):
        errors.append(f"tensor order {list(header)} != {list(WANT)}")
    body = data[8 + n:]
    end = 0
    for name, info in header.items():
        dtype, shape, want = WANT[name]
        begin, stop = info["data_offsets"]
        if not all(type(x) is int for x in info["shape"] + [begin, stop]):
            errors.append(f"{name}: shape/offsets not JSON integers")
        if info["dtype"] != dtype or info["shape"] != shape:
            errors.append(f"{name}: {info['dtype']} {info['shape']} != {dtype} {shape}")
            continue
        if begin != end:
            errors.append(f"{name}: begins at {begin}, previous tensor ended at {end}")
        end = stop
        got = np.frombuffer(body[begin:stop], dtype=NP[dtype]).reshape(shape)
        if got.tobytes() != want.astype(NP[dtype]).tobytes():
            errors.append(f"{name}: {got!r} != {want!r}")
    if end != len(body):
        errors.append(f"data section is {len(body)} bytes, tensors cover {end}")
    for e in errors:
        print(f"{path}: {e}")
    print(f"{path}: {'ok' if not errors else 'FAILED'} ({len(header)} tensors, {len(meta)} metadata)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
