#!/usr/bin/env python3
"""gen_log.py: write a LinkRing log of N put records directly, for replay benchmarks.

    python3 loadtest/gen_log.py OUTFILE N [--first 1]

Design: much faster than N HTTP PUTs. The layout is Sources/LinkRingCore/Storage/LogRecord.swift:
    file   = b"LINKRNG1" record*
    record = 0xA5 op:u8 keyLen:u16le valueLen:u32le version:u64le key value crc32c:u32le
with op 1 (put), key kI, value http://example.com/page/I (the key space of loadtest/wrk/keys.lua)
and crc32c (Castagnoli, reflected 0x82F63B78, as iSCSI/ext4) over every byte of the record
before it. Versions are hybrid timestamps (ms since 2020-01-01 << 22) of a few seconds ago,
plus 1024 per record: strictly increasing, origin bits 0. The CRC is table-driven pure Python;
the checksum state after the fixed 8-byte prefix is cached per (keyLen, valueLen), so only
version, key and value are hashed per record (about 4 s per million records). Check a new
file with `linkring-node dump FILE`: no "corrupt" or "torn" line may appear. Written as
DATA/linkring.log (an earlier release's single log), a node converts it into its first log
segment at start-up; written as DATA/linkring-0000000001.log it is that segment already.
"""
import argparse
import struct
import sys
import time

EPOCH_2020_MS = 1_577_836_800_000


def make_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


TABLE = make_table()


def crc_update(crc, data):
    """Continues a raw (not yet inverted at the end) CRC-32C register over `data`."""
    table = TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc


def crc32c(data):
    return crc_update(0xFFFFFFFF, data) ^ 0xFFFFFFFF


def write_log(path, count, first):
    assert crc32c(b"123456789") == 0xE3069283, "CRC-32C known answer"
    version = ((int(time.time() * 1000) - 10_000 - EPOCH_2020_MS) << 22)
    prefix_crc = {}
    with open(path, "wb") as out:
        out.write(b"LINKRNG1")
        chunk = []
        for i in range(first, first + count):
            key = b"k%d" % i
            value = b"http://example.com/page/%d" % i
            prefix = struct.pack("<BBHI", 0xA5, 1, len(key), len(value))
            state = prefix_crc.get(prefix)
            if state is None:
                state = prefix_crc[prefix] = crc_update(0xFFFFFFFF, prefix)
            version += 1024
            body = struct.pack("<Q", version) + key + value
            crc = crc_update(state, body) ^ 0xFFFFFFFF
            chunk.append(prefix + body + struct.pack("<I", crc))
            if len(chunk) == 65536:
                out.write(b"".join(chunk))
                chunk.clear()
        out.write(b"".join(chunk))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("count", type=int)
    parser.add_argument("--first", type=int, default=1)
    args = parser.parse_args()
    started = time.monotonic()
    write_log(args.path, args.count, args.first)
    print(f"gen-log-result records={args.count} seconds={time.monotonic() - started:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
