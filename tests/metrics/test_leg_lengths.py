"""Leg lengths measured a block of legs at a time equal the lengths measured at once."""

from __future__ import annotations

import numpy as np

from fleetsim.metrics import fleet


def test_leg_lengths_in_blocks_equal_one_pass(monkeypatch):
    rng = np.random.default_rng(5)
    n = 1001
    legs = {f"{a}{e}_m": rng.normal(scale=1000.0, size=n) for a in "xyz" for e in "01"}
    whole = fleet.leg_lengths_m(legs)
    monkeypatch.setattr(fleet, "_LENGTH_ROWS", 7)
    blocks = fleet.leg_lengths_m(legs)
    assert blocks.tobytes() == whole.tobytes()
    d = np.array([legs["x1_m"][3] - legs["x0_m"][3], legs["y1_m"][3] - legs["y0_m"][3],
                  legs["z1_m"][3] - legs["z0_m"][3]])
    assert np.isclose(blocks[3], np.linalg.norm(d), rtol=1e-15)
    assert len(fleet.leg_lengths_m({k: v[:0] for k, v in legs.items()})) == 0
