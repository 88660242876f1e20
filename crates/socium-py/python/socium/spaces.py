"""Gymnasium spaces for what Gymnasium has no space for: probability distributions (a player's
belief, say), free text as the engine takes it, and multi-discrete and tuple spaces whose action
mask comes as one flat array, as Socium gives it."""

from __future__ import annotations

import string
from typing import Any

import numpy as np
from gymnasium import spaces

#: How far from 1 a Simplex sample may sum (the engine's tolerance).
SIMPLEX_TOLERANCE = 1e-4


class Simplex(spaces.Box):
    """Probability distributions over ``n`` outcomes: float32 vectors in [0, 1] summing to 1
    (within ``SIMPLEX_TOLERANCE``). Samples are uniform on the simplex, Dirichlet(1, ..., 1)."""

    def __init__(self, n: int, seed: Any = None):
        super().__init__(0.0, 1.0, (n,), np.float32, seed)
        self.n = n

    def sample(self, mask: None = None, probability: None = None) -> np.ndarray:
        """A distribution drawn uniformly from the simplex (a Simplex takes no mask)."""
        if mask is not None or probability is not None:
            raise ValueError(f"{self}.sample takes no mask or probability")
        return self.np_random.dirichlet(np.ones(self.n)).astype(np.float32)

    def contains(self, x: Any) -> bool:
        """Whether ``x`` is a distribution over the ``n`` outcomes."""
        if not super().contains(x):
            return False
        return abs(float(np.sum(x, dtype=np.float64)) - 1.0) <= SIMPLEX_TOLERANCE

    def __repr__(self) -> str:
        return f"Simplex({self.n})"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Simplex) and self.n == other.n


class FreeText(spaces.Text):
    """Free text of at most ``max_length`` characters: any string, as the engine takes it.
    Samples draw from printable ASCII (letters, digits, punctuation and spaces)."""

    def __init__(self, max_length: int, seed: Any = None):
        super().__init__(max_length, min_length=0, charset=string.printable[:-5], seed=seed)

    def contains(self, x: Any) -> bool:
        """Whether ``x`` is a string of at most ``max_length`` characters."""
        return isinstance(x, str) and len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"FreeText({self.max_length})"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, FreeText) and self.max_length == other.max_length


def _component_masks(nvec: np.ndarray, mask: np.ndarray, at: int) -> tuple[tuple, int]:
    """The per-component masks Gymnasium's MultiDiscrete takes, read from a flat action mask at
    ``at``; and where they end."""
    components = []
    for k in nvec.reshape(-1):
        components.append(mask[at : at + int(k)].astype(np.int8))
        at += int(k)
    return tuple(components), at


class MultiDiscrete(spaces.MultiDiscrete):
    """Gymnasium's MultiDiscrete, whose ``sample`` also takes Socium's flat action mask: one
    entry per choice of each component, in order. PettingZoo samples with the mask it finds in
    the observation, so this is what makes its checkers work on multi-discrete actions."""

    def sample(self, mask: Any = None, probability: Any = None) -> np.ndarray:
        """A sample; ``mask`` is a tuple of per-component masks, as Gymnasium's, or one flat
        array."""
        if isinstance(mask, np.ndarray):
            components, at = _component_masks(self.nvec, mask, 0)
            if at != mask.size:
                raise ValueError(f"a mask of {mask.size} entries for {self}, which takes {at}")
            mask = components
        return super().sample(mask=mask, probability=probability)


class Tuple(spaces.Tuple):
    """Gymnasium's Tuple, whose ``sample`` also takes Socium's flat action mask: one entry per
    choice of each discrete part, in order (``Box`` and ``Simplex`` parts have none). PettingZoo
    samples with the mask it finds in the observation, so this is what makes its checkers work
    on tuple actions."""

    def sample(self, mask: Any = None, probability: Any = None) -> tuple:
        """A sample; ``mask`` is a tuple of per-part masks, as Gymnasium's, or one flat array."""
        if isinstance(mask, np.ndarray):
            mask = self.split_mask(mask)
        return super().sample(mask=mask, probability=probability)

    def split_mask(self, mask: np.ndarray) -> tuple:
        """A flat action mask as the per-part masks Gymnasium's Tuple takes."""
        parts, at = [], 0
        for space in self.spaces:
            if isinstance(space, spaces.Discrete):
                parts.append(mask[at : at + space.n].astype(np.int8))
                at += int(space.n)
            elif isinstance(space, spaces.MultiDiscrete):
                components, at = _component_masks(space.nvec, mask, at)
                parts.append(components)
            else:
                parts.append(None)
        if at != mask.size:
            raise ValueError(f"a mask of {mask.size} entries for {self}, which takes {at}")
        return tuple(parts)
