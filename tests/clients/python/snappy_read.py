"""Decompresses a Firehose Snappy object with python-snappy (Debian's python3-snappy over libsnappy) to stdout.

Usage: /usr/bin/python3 snappy_read.py framed|hadoop <file>
framed: the Snappy framing format (snappy.StreamDecompressor). hadoop: Hadoop's block format, each block a 4-byte
big-endian uncompressed length followed by chunks of (4-byte big-endian compressed length, raw snappy data).
"""
import struct
import sys

import snappy

mode, path = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
out = sys.stdout.buffer
if mode == "framed":
    out.write(snappy.StreamDecompressor().decompress(data))
else:
    offset = 0
    while offset < len(data):
        (expected,) = struct.unpack_from(">I", data, offset)
        offset += 4
        produced = 0
        while produced < expected:
            (length,) = struct.unpack_from(">I", data, offset)
            offset += 4
            chunk = snappy.uncompress(data[offset:offset + length])
            out.write(chunk)
            produced += len(chunk)
            offset += length
