import numpy as np
import pytest

from fleetsim.planning import densify, path_length


def test_densify_keeps_the_path_and_bounds_every_step():
    path = np.array([[0.0, 0.0], [1000.0, 0.0], [1000.0, 250.0], [0.0, 250.0]])
    out = densify(path, 300.0)
    steps = np.hypot(*np.diff(out, axis=0).T)
    assert steps.max() <= 300.0 + 1e-9
    # 1000 m -> 4 equal steps of 250 m, 250 m -> 1 step, 1000 m -> 4 steps
    assert len(out) == 1 + 4 + 1 + 4
    assert path_length(out) == pytest.approx(path_length(path), rel=1e-12)
    for p in path:  # every original waypoint is still there, in order
        assert np.isclose(out, p).all(axis=1).any()
    assert np.allclose(out[[0, 4, 5, 9]], path)


def test_densify_rejects_a_non_positive_step():
    with pytest.raises(ValueError, match="max_step_m"):
        densify([[0, 0], [1, 1]], 0.0)
