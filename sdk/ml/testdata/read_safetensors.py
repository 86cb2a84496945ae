#!/usr/bin/env python3
"""Independent safetensors reader (standard library only) for sdk/ml's tests.

Reads the 8-byte little-endian header length, the JSON header and each
tensor's bytes, checks the layout rules of the format (offsets contiguous,
sizes matching dtype x shape, header padded to 8 bytes) and prints JSON:
{"metadata": {...}, "tensors": {name: {"dtype", "shape", "values"}}}.
"""
import json
import struct
import sys

SIZES = {"F32": ("f", 4), "F64": ("d", 8), "I32": ("i", 4), "I64": ("q", 8), "U8": ("B", 1)}


def main(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    if n % 8 != 0:
        raise SystemExit("header length %d is not a multiple of 8" % n)
    header = json.loads(data[8 : 8 + n].decode("utf-8"))
    body = data[8 + n :]
    meta = header.pop("__metadata__", {})
    out = {}
    end = 0
    for name, e in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        fmt, size = SIZES[e["dtype"]]
        b, en = e["data_offsets"]
        if b != end:
            raise SystemExit("%s: data starts at %d, previous tensor ended at %d" % (name, b, end))
        count = 1
        for d in e["shape"]:
            count *= d
        if en - b != count * size:
            raise SystemExit("%s: %d bytes for %d elements of %s" % (name, en - b, count, e["dtype"]))
        vals = list(struct.unpack("<%d%s" % (count, fmt), body[b:en]))
        out[name] = {"dtype": e["dtype"], "shape": e["shape"], "values": vals}
        end = en
    if end != len(body):
        raise SystemExit("%d trailing bytes after the last tensor" % (len(body) - end))
    json.dump({"metadata": meta, "tensors": out}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
