"""Named random streams derived from a scenario seed.

Each stream is derived from ``(seed, name)`` alone, so adding a stream never
changes the draws of another, and the same seed always gives the same draws.
"""

from __future__ import annotations

import zlib

import numpy as np


def stream_key(name: str) -> int:
    """A stable 32-bit key for a stream name (CRC-32 of its UTF-8 bytes)."""
    return zlib.crc32(name.encode("utf-8"))


def make_rng(seed: int, name: str) -> np.random.Generator:
    """The generator of stream ``name`` for scenario seed ``seed``."""
    seq = np.random.SeedSequence(entropy=int(seed), spawn_key=(stream_key(name),))
    return np.random.Generator(np.random.PCG64(seq))


class RandomStreams:
    """A run's set of named random streams; each is created on first use."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._streams: dict[str, np.random.Generator] = {}

    def get(self, name: str) -> np.random.Generator:
        rng = self._streams.get(name)
        if rng is None:
            rng = make_rng(self.seed, name)
            self._streams[name] = rng
        return rng
