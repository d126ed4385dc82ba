"""Real bytes for the demo's binary resources: PNG images, WAV audio, zips.

Everything is generated from a seed, so the same asset always has the same bytes.
"""

from __future__ import annotations

import io
import json
import math
import random
import struct
import zipfile
import zlib


def png(seed: str, size: int = 32) -> bytes:
    """A small RGB PNG: a gradient whose colours depend on the seed."""
    rng = random.Random(seed)
    base = [rng.randrange(256) for _ in range(3)]
    rows = bytearray()
    for y in range(size):
        rows.append(0)  # filter type: none
        for x in range(size):
            rows += bytes(((base[0] + 4 * x) % 256, (base[1] + 4 * y) % 256, base[2]))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows)))
        + chunk(b"IEND", b"")
    )


def wav(seed: str, millis: int = 200, rate: int = 8000) -> bytes:
    """A short mono 16-bit WAV: a sine tone whose pitch depends on the seed."""
    freq = 220 + random.Random(seed).randrange(660)
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * i / rate)))
        for i in range(rate * millis // 1000)
    )
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + len(frames), b"WAVE", b"fmt ", 16, 1, 1, rate, rate * 2, 2, 16,
        b"data", len(frames),
    )
    return header + frames


def zip_of(files: dict[str, bytes]) -> bytes:
    """A zip archive holding the given files (deterministic timestamps)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(files.items()):
            info = zipfile.ZipInfo(name, date_time=(2025, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return out.getvalue()


def weights(seed: str, size: int) -> bytes:
    """Pseudo-random bytes standing in for model weights."""
    return random.Random(seed).randbytes(size)


def json_bytes(value: object) -> bytes:
    return json.dumps(value, sort_keys=True).encode()
