"""The Gymnasium spaces Socium adds: distributions (beliefs), and multi-discrete and tuple spaces
sampled with a flat mask."""

import numpy as np
import pytest

from socium.spaces import MultiDiscrete, Simplex, Tuple
from gymnasium import spaces


def test_simplex_samples_are_distributions_uniform_on_the_simplex():
    space = Simplex(3)
    space.seed(1)
    draws = np.array([space.sample() for _ in range(20_000)])
    assert all(space.contains(d) for d in draws[:100])
    assert np.abs(draws.sum(axis=1) - 1).max() < 1e-6
    # Each coordinate of Dirichlet(1, 1, 1) is Beta(1, 2): mean 1/3, variance 1/18; five standard
    # deviations of the mean over 20,000 draws.
    assert abs(draws[:, 0].mean() - 1 / 3) < 5 * (1 / 18 / 20_000) ** 0.5


def test_simplex_holds_distributions_only():
    space = Simplex(3)
    assert space.contains(np.array([0.2, 0.3, 0.5], np.float32))
    assert not space.contains(np.array([0.5, 0.5, 0.5], np.float32))
    assert not space.contains(np.array([1.5, -0.5, 0.0], np.float32))
    assert repr(space) == "Simplex(3)" and space == Simplex(3) and space != Simplex(4)
    with pytest.raises(ValueError, match="takes no mask"):
        space.sample(mask=np.ones(3, np.int8))


def test_a_tuple_samples_with_a_flat_mask():
    space = Tuple([spaces.Discrete(4), Simplex(2), spaces.MultiDiscrete([2, 3])])
    space.seed(2)
    mask = np.array([0, 0, 1, 0, 1, 0, 0, 0, 1], np.uint8)
    for _ in range(50):
        act, belief, multi = space.sample(mask)
        assert act == 2 and Simplex(2).contains(belief) and list(multi) == [0, 2]
    with pytest.raises(ValueError, match="a mask of 3 entries"):
        space.sample(np.ones(3, np.uint8))


def test_a_multi_discrete_samples_with_a_flat_mask():
    space = MultiDiscrete([2, 3, 2])
    space.seed(3)
    mask = np.array([0, 1, 1, 0, 1, 1, 1], np.int8)
    draws = np.array([space.sample(mask) for _ in range(200)])
    assert (draws[:, 0] == 1).all() and set(draws[:, 1]) == {0, 2} and set(draws[:, 2]) == {0, 1}
    assert space == spaces.MultiDiscrete([2, 3, 2])
    with pytest.raises(ValueError, match="a mask of 4 entries"):
        space.sample(np.ones(4, np.int8))
