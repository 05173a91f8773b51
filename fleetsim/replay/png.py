"""A minimal PNG encoder (8-bit greyscale, RGB or RGBA), with zlib and struct only."""

from __future__ import annotations

import struct
import zlib

import numpy as np

_COLOR_TYPE = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def encode_png(image: np.ndarray, *, level: int = 6) -> bytes:
    """PNG bytes of ``image``: (h, w) grey, (h, w, 3) RGB or (h, w, 4) RGBA, uint8.

    Row 0 is the top of the picture. Each row is filtered with the "Up" filter
    (difference to the row above), which suits smooth rasters such as hillshades.
    """
    img = np.asarray(image)
    if img.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image, got {img.dtype}")
    if img.ndim == 2:
        img = img[:, :, None]
    if img.ndim != 3 or img.shape[2] not in _COLOR_TYPE or img.shape[0] < 1 or img.shape[1] < 1:
        raise ValueError(f"expected an (h, w), (h, w, 3) or (h, w, 4) image, got {img.shape}")
    h, w, c = img.shape
    rows = np.ascontiguousarray(img).reshape(h, w * c)
    up = rows.copy()
    up[1:] -= rows[:-1]  # uint8 arithmetic wraps modulo 256, as PNG's filters do
    raw = np.empty((h, w * c + 1), dtype=np.uint8)
    raw[:, 0] = 2  # filter type 2: Up (row 0's "above" is zeros, so it is unchanged)
    raw[:, 1:] = up
    header = struct.pack(">IIBBBBB", w, h, 8, _COLOR_TYPE[c], 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(raw.tobytes(), level)) + _chunk(b"IEND", b""))


def decode_png(data: bytes) -> np.ndarray:
    """Decode a PNG written by :func:`encode_png` (8-bit, non-interlaced, any of the five
    filters); for tests. Returns (h, w) or (h, w, c) uint8."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + n]
        if zlib.crc32(kind + body) & 0xFFFFFFFF != struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0]:
            raise ValueError(f"bad CRC in {kind!r} chunk")
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    if header is None:
        raise ValueError("no IHDR chunk")
    w, h, depth, ctype, _, _, interlace = header
    if depth != 8 or interlace:
        raise ValueError("only 8-bit, non-interlaced PNGs are supported")
    c = {0: 1, 2: 3, 6: 4, 4: 2}[ctype]
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(h, w * c + 1)
    out = np.zeros((h, w * c), dtype=np.int32)
    for i in range(h):
        f, line = raw[i, 0], raw[i, 1:].astype(np.int32)
        prev = out[i - 1] if i else np.zeros(w * c, dtype=np.int32)
        if f == 0:
            cur = line
        elif f == 2:
            cur = (line + prev) & 0xFF
        elif f in (1, 3, 4):
            cur = np.zeros(w * c, dtype=np.int32)
            for j in range(w * c):
                a = cur[j - c] if j >= c else 0
                b = prev[j]
                d = prev[j - c] if j >= c else 0
                if f == 1:
                    pred = a
                elif f == 3:
                    pred = (a + b) // 2
                else:
                    p = a + b - d
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - d)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else d)
                cur[j] = (line[j] + pred) & 0xFF
        else:
            raise ValueError(f"unknown PNG filter {f}")
        out[i] = cur
    img = out.astype(np.uint8).reshape(h, w, c)
    return img[:, :, 0] if c == 1 else img
