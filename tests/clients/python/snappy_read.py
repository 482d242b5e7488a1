"""Decompresses a Firehose Snappy object with python-snappy (Debian's python3-snappy over libsnappy) to stdout.

Usage: /usr/bin/python3 snappy_read.py framed|hadoop <file>
framed: the Snappy framing format (snappy.StreamDecompressor). hadoop: Hadoop's block format, each block a 4-byte
big-endian uncompressed length followed by chunks of (4-byte big-endian compressed length, raw snappy data).
"""
import struct
import sys

import snappy
import snappy.snappy


def _crc32c(data):
    """CRC-32C in Python: Debian's python-snappy 0.5.3 calls its C crc32c in a way Python 3.11 refuses
    (PY_SSIZE_T_CLEAN), so the framing checksums are computed here; the decompression is still libsnappy's."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


snappy.snappy._crc32c = _crc32c

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
