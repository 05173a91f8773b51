"""The broad phases of fleetsim.boxpairs against brute force."""

from __future__ import annotations

import numpy as np
import pytest

from fleetsim import boxpairs
from fleetsim.boxpairs import cell_pairs, strip_pairs


def _brute(xmin, ymin, xmax, ymax, group):
    ov = ((xmin[:, None] <= xmax[None, :]) & (xmin[None, :] <= xmax[:, None])
          & (ymin[:, None] <= ymax[None, :]) & (ymin[None, :] <= ymax[:, None])
          & (group[:, None] != group[None, :]))
    i, j = np.nonzero(np.triu(ov, 1))
    return i * len(xmin) + j


def _boxes(seed, n=700):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2000, 3000, n)
    y = rng.uniform(-1000, 4000, n)
    w = rng.exponential(80.0, n)
    h = rng.exponential(80.0, n)
    long_ = rng.random(n) < 0.03  # boxes across many strips, or making cells large
    w[long_] = rng.uniform(1000, 5000, long_.sum())
    h[long_ & (rng.random(n) < 0.5)] = rng.uniform(1000, 4000)
    x[:20] = np.round(x[:20] / 100.0) * 100.0  # on strip and cell boundaries
    y[:40] = np.round(y[:40] / 100.0) * 100.0
    w[20:30] = 0.0  # points
    h[20:30] = 0.0
    x[30], w[30], x[31] = 0.0, 100.0, 100.0  # touching
    y[30] = y[31] = 0.0
    x[50:60], y[50:60] = x[40], y[40]  # piled up
    group = rng.integers(0, 40, n)
    return x, y, x + w, y + h, group, long_


@pytest.mark.parametrize("chunk", [None, 97])
@pytest.mark.parametrize("seed", [11, 12])
def test_strip_and_cell_pairs_equal_brute_force(monkeypatch, chunk, seed):
    if chunk is not None:  # exercise the chunked pair formation
        monkeypatch.setattr(boxpairs, "_PAIR_CHUNK", chunk)
    xmin, ymin, xmax, ymax, group, long_ = _boxes(seed)
    n = len(xmin)
    expected = _brute(xmin, ymin, xmax, ymax, group)
    assert len(expected) > 1000
    found = [strip_pairs(xmin, ymin, xmax, ymax, group, s) for s in (37.0, 100.0, 1000.0, 1e5)]
    found.append(cell_pairs(xmin, ymin, xmax, ymax, group, 10**9))
    for i, j in found:
        assert (i < j).all()  # each pair once, i < j
        np.testing.assert_array_equal(np.sort(i * n + j), expected)
    # Boxes of similar sizes (small cells)
    small = np.flatnonzero(~long_)
    m = len(small)
    sub = (xmin[small], ymin[small], xmax[small], ymax[small], group[small])
    i, j = cell_pairs(*sub, 10**9)
    np.testing.assert_array_equal(np.sort(i * m + j), _brute(*sub))


def test_cell_pairs_gives_up_on_too_many_pairs():
    xmin, ymin, xmax, ymax, group, _ = _boxes(11)
    # a few 5 km boxes make 5 km cells: far more than 1,000 pairs formed
    assert cell_pairs(xmin, ymin, xmax, ymax, group, 1000) is None


def test_degenerate_inputs():
    for n in (0, 1):
        i, j = strip_pairs(np.zeros(n), np.zeros(n), np.ones(n), np.ones(n), np.arange(n), 10.0)
        assert len(i) == len(j) == 0
    # one group, or points on one spot: nothing / every pair of different groups
    i, _ = strip_pairs(np.zeros(5), np.zeros(5), np.ones(5), np.ones(5), np.zeros(5), 10.0)
    assert len(i) == 0
    i, j = cell_pairs(np.zeros(4), np.zeros(4), np.zeros(4), np.zeros(4), np.arange(4), 100)
    assert sorted(zip(i.tolist(), j.tolist(), strict=True)) == [
        (0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    with pytest.raises(ValueError, match="strip_m must be positive"):
        strip_pairs(np.zeros(2), np.zeros(2), np.ones(2), np.ones(2), np.arange(2), 0.0)
    with pytest.raises(ValueError, match="finite"):
        strip_pairs(np.array([0.0, np.nan]), np.zeros(2), np.ones(2), np.ones(2),
                    np.arange(2), 1.0)
    with pytest.raises(ValueError, match="larger strip_m"):
        strip_pairs(np.zeros(2), np.zeros(2), np.ones(2), np.full(2, 1e9), np.arange(2), 1.0)
