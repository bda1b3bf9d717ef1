"""Writes a damaged copy of a safetensors file, for tests/test_cli.sh.

    damage.py IN OUT meta KEY VALUE        set __metadata__[KEY] = VALUE (a string)
    damage.py IN OUT cfg KEY JSON          set config[KEY] = JSON (parsed; "raw:TEXT" renames KEY to TEXT)
    damage.py IN OUT labels JSON           replace the "labels" metadata with JSON
    damage.py IN OUT f32 TENSOR INDEX X    set element INDEX of an F32 tensor to float X ("nan", "inf" too)

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
