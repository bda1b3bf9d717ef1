"""Minimal safetensors writer/reader used by the fixture scripts.

The format (https://github.com/huggingface/safetensors): an 8-byte little-endian
header length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__":
{str: str}}, then the raw little-endian tensor bytes. Written by hand so the
fixture scripts need only torch and numpy.

load() reads the dtypes rnn.c's loader reads (src/safetensors.c): F32, I32 and
I64 as they are, and F16, BF16 (the upper 16 bits of a float32) and F64
converted to float32, as rnn.c converts them. Anything else, a file that is
not safetensors, or one rnn.c refuses for its layout (a tensor name given
twice, overlapping tensors, a hole in the data section or bytes after it)
stops with a one-line SystemExit naming the file (and the tensor). save()
writes F32, I32 and I64; other float inputs (float16, bfloat16, float64) are
written as float32.
"""
import json
import struct

import numpy as np

_DT = {np.dtype("float32"): "F32", np.dtype("int32"): "I32", np.dtype("int64"): "I64"}
_NP = {v: k for k, v in _DT.items()}
# dtype name -> (bytes per element, bytes -> numpy array) for the dtypes rnn.c reads
_SIZE = {"F32": 4, "I32": 4, "I64": 8, "F16": 2, "BF16": 2, "F64": 8}


def _bf16_to_f32(raw):
    """BF16 is the top half of a float32: widen by a 16-bit shift, exactly."""
    return (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)


def _decode(dtype, raw):
    if dtype == "BF16":
        return _bf16_to_f32(raw)
    if dtype == "F16":
        return np.frombuffer(raw, dtype="<f2").astype(np.float32)
    if dtype == "F64":
        with np.errstate(over="ignore"):  # past float32's range: inf, as rnn.c's (float) cast
            return np.frombuffer(raw, dtype="<f8").astype(np.float32)
    return np.frombuffer(raw, dtype=_NP[dtype].newbyteorder("<")).astype(_NP[dtype])


def _to_numpy(name, a):
    if hasattr(a, "detach"):  # a torch tensor: float16/bfloat16/float64 -> float32 first (numpy has no bfloat16)
        a = a.detach().cpu()
        if a.is_floating_point() and str(a.dtype) != "torch.float32":
            a = a.float()
        a = a.numpy()
    a = np.asarray(a)
    if a.dtype.kind == "f" and a.dtype != np.float32:
        a = a.astype(np.float32)
    if a.dtype not in _DT:
        raise SystemExit(f"st.save: tensor '{name}' has dtype {a.dtype} (writes float32, int32 or int64)")
    return a


def save(path, tensors, metadata=None):
    """tensors: dict name -> numpy array or torch tensor (float32/int32/int64;
    other float dtypes are written as float32)."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        a = _to_numpy(name, tensors[name])
        if a.ndim:  # ascontiguousarray would turn a 0-d scalar into shape [1]
            a = np.ascontiguousarray(a)
        b = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": _DT[a.dtype], "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load(path):
    """Returns (dict name -> numpy array, metadata dict). F16, BF16 and F64
    tensors come back as float32 (as rnn.c reads them)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise SystemExit(f"{path}: cannot open: {e.strerror or e}")
    if len(data) < 8:
        raise SystemExit(f"{path}: not a safetensors file (only {len(data)} bytes)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise SystemExit(f"{path}: not a safetensors file (its header length {n} is past the end of the file)")

    def no_duplicates(pairs):  # json keeps the last of a repeated key; rnn.c refuses the file
        d = {}
        for k, v in pairs:
            if k in d:
                raise SystemExit(f"{path}: tensor '{k}' appears twice" if k != "__metadata__" else
                                 f"{path}: __metadata__ appears twice")
            d[k] = v
        return d
    try:
        header = json.loads(data[8:8 + n], object_pairs_hook=no_duplicates)
    except ValueError:
        raise SystemExit(f"{path}: not a safetensors file (the header is not JSON)")
    if not isinstance(header, dict):
        raise SystemExit(f"{path}: not a safetensors file (the header is not a JSON object)")
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise SystemExit(f"{path}: \"__metadata__\" must map strings to strings")
    base = 8 + n
    out, spans = {}, []
    for name, info in header.items():
        try:
            dtype, shape, (s, e) = info["dtype"], [int(d) for d in info["shape"]], info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise SystemExit(f"{path}: tensor '{name}': needs \"dtype\", \"shape\" and \"data_offsets\"")
        if dtype not in _SIZE:
            raise SystemExit(f"{path}: tensor '{name}': unsupported dtype '{dtype}' "
                             f"(supported: F32, I32, I64, BF16, F16, F64)")
        numel = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if not (isinstance(s, int) and isinstance(e, int) and 0 <= s <= e and base + e <= len(data)) \
                or e - s != numel * _SIZE[dtype] or any(d < 0 for d in shape):
            raise SystemExit(f"{path}: tensor '{name}': data_offsets [{s}, {e}] do not hold a {dtype} tensor "
                             f"of shape {shape} within the file")
        out[name] = _decode(dtype, data[base + s:base + e]).reshape(shape).copy()
        if e > s:
            spans.append((s, e, name))
    _check_layout(path, sorted(spans), len(data) - base)
    return out, meta


def _check_layout(path, spans, data_size):
    """The tensors tile the data section, as the format (and rnn.c) requires:
    no overlap, no hole before a tensor, nothing after the last."""
    at, prev = 0, None
    for s, e, name in spans:
        if s < at:
            raise SystemExit(f"{path}: tensors '{prev[2]}' [{prev[0]}, {prev[1]}] and '{name}' [{s}, {e}] overlap")
        if s > at:
            raise SystemExit(f"{path}: {s - at} bytes of the data section before tensor '{name}' [{s}, {e}] belong "
                             f"to no tensor (safetensors has no holes: a damaged file)")
        at, prev = e, (s, e, name)
    if at < data_size:
        raise SystemExit(f"{path}: {data_size - at} bytes after the last tensor's data belong to no tensor (a "
                         f"damaged file, or something appended to it)")
