"""Writes a damaged copy of a safetensors file, for tests/test_cli.sh.

    damage.py IN OUT meta KEY VALUE        set __metadata__[KEY] = VALUE (a string)
    damage.py IN OUT cfg KEY JSON          set config[KEY] = JSON (parsed; "raw:TEXT" renames KEY to TEXT)
    damage.py IN OUT labels JSON           replace the "labels" metadata with JSON
    damage.py IN OUT f32 TENSOR INDEX X    set element INDEX of an F32 tensor to float X ("nan", "inf" too)
    damage.py IN OUT uncfg KEY             remove config[KEY]
    damage.py IN OUT prefix P              put P before every tensor's name (DataParallel's "module.")
    damage.py IN OUT transpose TENSOR      swap the two dimensions of a 2-D tensor's shape (data as is)
    damage.py IN OUT f64 TENSOR INDEX X    store an F32 tensor as F64, with element INDEX set to X

Only json and struct: no numpy, so it runs wherever python3 does.
"""
import json
import struct
import sys


def main():
    src, dst, op = sys.argv[1:4]
    args = sys.argv[4:]
    data = bytearray(open(src, "rb").read())
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    meta = header.setdefault("__metadata__", {})
    if op == "meta":
        meta[args[0]] = args[1]
    elif op == "cfg":
        c = json.loads(meta["config"])
        if args[1].startswith("raw:"):
            c[args[1][4:]] = c.pop(args[0])
        else:
            c[args[0]] = json.loads(args[1])
        meta["config"] = json.dumps(c)
    elif op == "uncfg":
        c = json.loads(meta["config"])
        del c[args[0]]
        meta["config"] = json.dumps(c)
    elif op == "prefix":
        header = {(k if k == "__metadata__" else args[0] + k): v for k, v in header.items()}
    elif op == "transpose":
        header[args[0]]["shape"].reverse()
    elif op == "f64":  # the tensor moves to the end of the data, as doubles (no hole left)
        info = header[args[0]]
        assert info["dtype"] == "F32"
        s, e = info["data_offsets"]
        vals = list(struct.unpack("<%df" % ((e - s) // 4), bytes(body[s:e])))
        vals[int(args[1])] = float(args[2])
        blob = struct.pack("<%dd" % len(vals), *vals)
        del body[s:e]
        for k, t in header.items():
            if k != "__metadata__" and t["data_offsets"][0] >= e:
                t["data_offsets"] = [t["data_offsets"][0] - (e - s), t["data_offsets"][1] - (e - s)]
        info.update(dtype="F64", data_offsets=[len(body), len(body) + len(blob)])
        body += blob
    elif op == "labels":
        meta["labels"] = args[0]
    elif op == "f32":
        info = header[args[0]]
        assert info["dtype"] == "F32"
        off = info["data_offsets"][0] + 4 * int(args[1])
        body[off:off + 4] = struct.pack("<f", float(args[2]))
    else:
        sys.exit("unknown operation " + op)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    open(dst, "wb").write(struct.pack("<Q", len(h)) + h + bytes(body))


main()
