"""Column files (``.bin``): typed little-endian arrays, described in the manifest.

A ``.bin`` file is the concatenation of its columns' raw bytes, each starting at
an offset that is a multiple of 8 (so a browser can view it in place with a
``Float64Array``/``Float32Array``/... without copying). The manifest describes
each column as ``{"dtype": "<f4", "offset": bytes, "count": items}``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

#: dtypes a column may have (numpy spelling, all little-endian), and the
#: JavaScript typed array that views each.
DTYPES = {
    "<f8": "Float64Array", "<f4": "Float32Array",
    "<u4": "Uint32Array", "<i4": "Int32Array",
    "<u2": "Uint16Array", "<i2": "Int16Array",
    "<u1": "Uint8Array", "<i1": "Int8Array",
}
ALIGN = 8


def write_columns(path: str | os.PathLike, columns: dict[str, np.ndarray]) -> dict:
    """Write ``columns`` (name -> 1-D array) to ``path``; returns the manifest entry
    ``{"file": name, "bytes": n, "columns": {name: {dtype, offset, count}}}``
    (``file`` relative to the file's folder: the caller makes it bundle-relative)."""
    path = Path(path)
    meta: dict[str, dict] = {}
    offset = 0
    with open(path, "wb") as fh:
        for name, values in columns.items():
            arr = np.ascontiguousarray(values)
            dt = arr.dtype.newbyteorder("<") if arr.dtype.byteorder == ">" else arr.dtype
            code = np.dtype(dt).str
            if code == "|u1":
                code = "<u1"
            elif code == "|i1":
                code = "<i1"
            if code not in DTYPES:
                raise TypeError(f"column {name!r}: dtype {arr.dtype} is not a replay column type")
            arr = arr.astype(code, copy=False).reshape(-1)
            pad = (-offset) % ALIGN
            if pad:
                fh.write(b"\0" * pad)
                offset += pad
            meta[name] = {"dtype": code, "offset": offset, "count": int(arr.size)}
            data = arr.tobytes()
            fh.write(data)
            offset += len(data)
    return {"file": path.name, "bytes": offset, "columns": meta}


def read_columns(path: str | os.PathLike, entry: dict) -> dict[str, np.ndarray]:
    """Read the columns an entry written by :func:`write_columns` describes."""
    data = Path(path).read_bytes()
    if len(data) != entry["bytes"]:
        raise ValueError(f"{path}: {len(data)} bytes, the manifest says {entry['bytes']}")
    out = {}
    for name, col in entry["columns"].items():
        dt = np.dtype(col["dtype"])
        start = col["offset"]
        if start % ALIGN:
            raise ValueError(f"{path}: column {name!r} is not aligned to {ALIGN} bytes")
        out[name] = np.frombuffer(data, dtype=dt, count=col["count"], offset=start)
    return out
