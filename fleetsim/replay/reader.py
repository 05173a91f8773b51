"""Reading a replay bundle back (for tests and tools; the viewer has its own reader)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fleetsim.errors import RunDirError
from fleetsim.replay.binfile import read_columns
from fleetsim.replay.keyframes import interpolate_chunk
from fleetsim.replay.writer import FORMAT_NAME, FORMAT_VERSION, MANIFEST, READABLE_VERSIONS


@dataclass
class ReplayBundle:
    root: Path
    manifest: dict[str, Any]

    def _cols(self, entry: dict[str, Any]) -> dict[str, np.ndarray]:
        return read_columns(self.root / entry["file"], entry)

    @property
    def duration_s(self) -> float:
        return float(self.manifest["time"]["end_s"])

    @property
    def chunks(self) -> list[dict[str, Any]]:
        return self.manifest["chunks"]

    def chunk(self, k: int) -> dict[str, np.ndarray]:
        """Decoded keyframe columns (and ``offsets``) of chunk ``k``."""
        return self._cols(self.chunks[k])

    def chunk_index(self, t: float) -> int:
        """The chunk whose span holds ``t`` (the later one on a boundary)."""
        starts = [c["t0_s"] for c in self.chunks]
        return int(min(max(np.searchsorted(starts, t, side="right") - 1, 0), len(starts) - 1))

    def state_at(self, t: float, chunk: int | None = None) -> dict[str, np.ndarray]:
        """Every vehicle's interpolated state at ``t`` from one chunk only."""
        k = self.chunk_index(t) if chunk is None else chunk
        return interpolate_chunk(self.chunk(k), t)

    def vehicles(self) -> dict[str, np.ndarray]:
        return self._cols(self.manifest["vehicles"])

    def events(self) -> dict[str, np.ndarray]:
        return self._cols(self.manifest["events"])

    def coverage(self) -> dict[str, np.ndarray]:
        return self._cols(self.manifest["layers"]["coverage"])

    def heights(self) -> np.ndarray:
        h = self.manifest["layers"]["terrain"]["heights"]
        return self._cols(h)["heights_m"].reshape(h["ny"], h["nx"])

    def timeseries(self) -> dict[str, np.ndarray] | None:
        """The run's time series (version 2 bundles; None in version 1 bundles)."""
        entry = self.manifest.get("timeseries")
        return None if entry is None else self._cols(entry)

    def layer(self, name: str) -> Any:
        return json.loads((self.root / self.manifest["layers"][name]).read_text())

    def layer_columns(self, name: str) -> dict[str, np.ndarray] | None:
        """Columns of a layer stored as a column file (``roads``, ``water``, ``orders``,
        ``coverage``); None when the bundle has no such layer."""
        entry = self.manifest["layers"].get(name)
        return None if entry is None else self._cols(entry)

    def order_ids(self) -> list[str]:
        entry = self.manifest["layers"].get("orders")
        return [] if entry is None else json.loads((self.root / entry["ids"]).read_text())


def read_replay(path: str | os.PathLike) -> ReplayBundle:
    root = Path(path)
    mf = root / MANIFEST
    if not mf.is_file():
        raise RunDirError(f"{root}: not a replay bundle (no {MANIFEST}); "
                          "'fleetsim replay RUN_DIR' writes one")
    manifest = json.loads(mf.read_text())
    if manifest.get("format") != FORMAT_NAME:
        raise RunDirError(f"{mf}: not a {FORMAT_NAME} manifest")
    if manifest.get("version") not in READABLE_VERSIONS:
        raise RunDirError(f"{mf}: replay format version {manifest.get('version')!r}; this "
                          f"fleetsim reads version {FORMAT_VERSION} (rebuild it with "
                          "'fleetsim replay RUN_DIR')")
    return ReplayBundle(root, manifest)
