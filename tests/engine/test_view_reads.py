"""The fleet view's reads of the engine's per-vehicle lists: the values numpy's
``asarray`` gives, however many vehicles are asked about, as read-only arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fleetsim.engine import Simulation
from fleetsim.engine.view import _pick, _pick_pairs
from fleetsim.scenario import load_scenario

SWARM = Path(__file__).resolve().parents[2] / "scenarios" / "swarm_10k.yaml"


@pytest.mark.parametrize("n_idx", [0, 1, 3, 40, 100])
def test_picks_are_numpys_for_few_and_many_vehicles(n_idx):
    rng = np.random.default_rng(n_idx)
    pairs = [(float(x), float(y)) for x, y in rng.normal(0.0, 1e4, (100, 2))]
    pairs[7] = (3, np.float64(-0.0))  # an int and a numpy scalar are read as numbers too
    times = rng.uniform(0.0, 1e5, 100).tolist()
    times[5] = 12
    idx = rng.integers(0, 100, n_idx)
    got = _pick_pairs(pairs, idx)
    want = np.asarray(pairs, dtype=np.float64)[idx]
    assert got.shape == (n_idx, 2) and got.dtype == np.float64
    assert got.tobytes() == want.tobytes()
    got = _pick(times, idx, np.float64)
    assert got.dtype == np.float64
    assert got.tobytes() == np.asarray(times, dtype=np.float64)[idx].tobytes()


def test_plan_ends_positions_and_states_are_read_only_and_indices_checked():
    sc = load_scenario(SWARM, ["fleet.types[0].bases={sw: 3, se: 3, nw: 3, ne: 3}"])
    sim = Simulation(sc)
    view = sim.view
    for v in ([4], list(range(12)), np.arange(12)[::-1]):
        xy, t = view.plan_end(v)
        pos, states = view.positions(v), view.states(v)
        for a in (xy, t, pos, states):
            assert not a.flags.writeable
        assert xy.tobytes() == np.asarray(sim.end_xy, dtype=np.float64)[v].tobytes()
        assert pos.shape == (len(v), 3)
    for bad in ([12], [-1], [0, 1, 2, 3, 4, 5, 6, 7, 8, 12], [-1] + list(range(11))):
        with pytest.raises(IndexError):
            view.positions(bad)


def test_one_vehicles_plan_end_is_the_fleets_row():
    sc = load_scenario(SWARM, ["fleet.types[0].bases={sw: 3, se: 3, nw: 3, ne: 3}"])
    sim = Simulation(sc)
    view = sim.view
    sim.waiting[5] = sim.waiting[6] = True  # waiting for a plan: where they are, now
    sim.end_xy[5], sim.end_t[5] = (9.0, 9.0), 1e6
    sim.end_t[2] = 7  # (an int, as a plan's end time may be)
    sim.end_xy[3] = (1, 2)
    for now in (0.0, 5.0, 100.0):
        view.now_s = now
        xy, t = view.plan_end(np.arange(12))
        assert xy[5].tolist() == view.positions([5])[0, :2].tolist() and t[5] == now
        for v in range(12):
            one = view.plan_end([v])
            assert one[0].tobytes() == xy[[v]].tobytes() and one[0].shape == (1, 2)
            assert one[1].tobytes() == t[[v]].tobytes() and one[1].dtype == np.float64
            assert not one[0].flags.writeable and not one[1].flags.writeable
