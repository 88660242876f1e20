"""Reward design from Python: HERON's hierarchical preference (Bukharin et al. 2023), the same
function `socium run` labels episodes with."""

import pytest

import socium


def test_heron_preference_follows_the_hierarchy_and_its_margins():
    order, margins = [0, 1], [1.0, 0.1]
    assert socium.heron_preference([5.0, 0.0], [2.0, 9.0], order, margins) == (0, 0)
    assert socium.heron_preference([5.0, 0.2], [4.5, 0.5], order, margins) == (1, 1)
    assert socium.heron_preference([5.0, 0.3], [4.0, 0.2], order, margins) is None
    with pytest.raises(ValueError, match="one length"):
        socium.heron_preference([1.0], [1.0, 2.0], [0], [0.0])
