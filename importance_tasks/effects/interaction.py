"""Which features act together: Friedman and Popescu's H-statistic for pairs of features.

For features j and k, partial dependence ``PD_j``, ``PD_k`` and ``PD_jk`` (the model's mean
output with those columns set to a row's values, over the rows of a sample), centred, are
compared at the sample's own points (Friedman & Popescu 2008, eq. 44):

    H²_jk = Σ_i (PD_jk(x_i) - PD_j(x_i) - PD_k(x_i))² / Σ_i PD_jk(x_i)²

H² is a share: for two features with almost no effect it is noise over noise. So pairs are
ranked by ``strength``, Friedman's unnormalised H on the output's scale, the root mean square
of the interaction part ``PD_jk - PD_j - PD_k``, which cannot be large where the features
barely matter; H² is given beside it only where the pair's joint effect is material (its root
mean square at least ``MATERIAL`` of the output's spread), else None, and a pair whose joint
effect is not material gets strength 0. Each feature's total H² (eq. 46: the share of its
effect that is not additive with all the others) says how much of it lies in interactions.

Each feature (or group of columns) costs one batch of n x n rows and each pair one more, where
n is the sample's size; the bootstrap intervals reuse those outputs (rows drawn again, as
background and as points), so they cost no model evaluation.

References
----------
J. H. Friedman and B. E. Popescu, "Predictive learning via rule ensembles", Annals of Applied
Statistics 2(3), 2008, section 8.1. doi:10.1214/07-AOAS148
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from importance_tasks.model import Model

__all__ = ["MATERIAL", "MATERIAL_H2", "Interactions", "Pair", "acts_together", "interactions"]

# The least share of the output's spread (root mean square) a pair's joint effect has for H²
# to be reported and the pair ranked.
MATERIAL = 0.05
BOOTSTRAP = 200
# The least H² for a pair to be named as acting together (beside an interval above 0): a
# twentieth of their joint effect not the sum of their own effects.
MATERIAL_H2 = 0.05


def acts_together(pair: Pair) -> bool:
    """Whether a pair acts together: its joint effect is material, its H² at least
    ``MATERIAL_H2`` and its 95% interval above 0. An additive model's pairs have H² near 0
    with intervals that reach it, and are not named."""
    interval, h2 = pair.interval, pair.h2
    return h2 is not None and h2 >= MATERIAL_H2 and interval is not None and interval[0] > 0


@dataclass(frozen=True)
class Pair:
    """One pair: ``strength`` (unnormalised H, the ranking statistic), ``h2`` (None where the
    joint effect is not material) and its bootstrap 95% interval."""

    features: tuple[str, str]
    strength: float
    h2: float | None
    interval: tuple[float, float] | None
    strength_interval: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "strength": self.strength,
            "h2": self.h2,
            "interval": None if self.interval is None else list(self.interval),
            "strength_interval": list(self.strength_interval),
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Pair:
        a, b = record["features"]
        interval = record["interval"]
        low, high = record["strength_interval"]
        return cls(
            (a, b), record["strength"], record["h2"],
            None if interval is None else (interval[0], interval[1]), (low, high),
        )  # fmt: skip


@dataclass(frozen=True)
class Interactions:
    """The pairs of the features analysed, strongest first, each feature's total H², and what
    it cost in model evaluations."""

    pairs: tuple[Pair, ...]
    total: dict[str, float]
    evaluations: int
    rows: int


def interactions(
    model: Model,
    X: NDArray[np.float32],
    features: Sequence[tuple[str, Sequence[int]]],
    *,
    n_rows: int = 100,
    seed: int = 0,
    n_bootstrap: int = BOOTSTRAP,
) -> Interactions:
    """H² and strength for every pair of ``features`` (name, column indices; in the order
    given, which names each pair's first feature), on ``n_rows`` rows of ``X`` drawn with
    ``seed``."""
    rng = np.random.default_rng(seed)
    n = min(n_rows, len(X))
    sample = np.ascontiguousarray(X[rng.choice(len(X), size=n, replace=False)], np.float32)
    single = {name: _grid_outputs(model, sample, cols) for name, cols in features}
    spread = _rms(_centred(np.einsum("iio->io", next(iter(single.values())))))
    # Row 0 weighs every row once (the estimate); the others are bootstrap draws of the rows.
    draws = [np.bincount(rng.integers(0, n, n), minlength=n) / n for _ in range(n_bootstrap)]
    weights = np.vstack([np.full(n, 1.0 / n), *draws])
    own = {name: _pd(grid, weights) for name, grid in single.items()}
    pairs = []
    for (a, cols_a), (b, cols_b) in itertools.combinations(features, 2):
        joint = _pd(_grid_outputs(model, sample, [*cols_a, *cols_b]), weights)
        rest = joint - own[a] - own[b]
        total = np.einsum("bi,bio->b", weights, joint**2)
        part = np.einsum("bi,bio->b", weights, rest**2)
        h2 = np.divide(part, total, out=np.zeros_like(part), where=total > 0)
        strength = np.sqrt(part)
        material = np.sqrt(total[0]) >= MATERIAL * spread
        pairs.append(
            Pair(
                features=(a, b),
                strength=float(strength[0]) if material else 0.0,
                h2=float(h2[0]) if material else None,
                interval=_interval(h2[1:]) if material else None,
                strength_interval=_interval(strength[1:]) if material else (0.0, 0.0),
            )
        )
    total_h2 = {name: _total(grid) for name, grid in single.items()}
    evaluations = n * n * (len(features) + len(pairs))
    ranked = sorted(pairs, key=lambda p: -p.strength)
    return Interactions(tuple(ranked), total_h2, evaluations, n)


def _grid_outputs(model: Model, sample: NDArray[np.float32], columns: Sequence[int]) -> Any:
    """F[i, l] = the output for row l with ``columns`` set to row i's values: (n, n, out)."""
    n = len(sample)
    cols = np.asarray(columns, dtype=np.intp)
    batch = np.tile(sample, (n, 1))
    batch[:, cols] = np.repeat(sample[:, cols], n, axis=0)
    return model.predict(batch).reshape(n, n, -1)


def _centred(values: NDArray[np.float64]) -> Any:
    return values - values.mean(axis=0)


def _rms(values: NDArray[np.float64]) -> float:
    return float(np.sqrt((values**2).sum(axis=-1).mean()))


def _pd(grid: NDArray[np.float64], weights: NDArray[np.float64]) -> Any:
    """Centred partial dependence at each point i, for each row of ``weights`` (b, n): the
    weighted mean over background rows l of F[i, l], centred over the points with the same
    weights. Shape (b, n, out); one matrix product for every draw."""
    n, _, out = grid.shape
    raw = (weights @ grid.transpose(1, 0, 2).reshape(n, n * out)).reshape(len(weights), n, out)
    return raw - np.einsum("bi,bio->bo", weights, raw)[:, None, :]


def _total(grid: NDArray[np.float64]) -> float:
    """A feature's total H² (eq. 46): the share of the centred output f that is not
    PD_j(x_j) + PD_\\j(x_\\j), from F[i, l] (row l with the feature at row i's value)."""
    f = _centred(np.einsum("iio->io", grid))
    own = _centred(grid.mean(axis=1))  # PD_j at each row's own value
    others = _centred(grid.mean(axis=0))  # PD_\j: the feature averaged out
    total = float((f**2).sum())
    part = float(((f - own - others) ** 2).sum())
    return part / total if total > 0 else 0.0


def _interval(values: NDArray[np.float64]) -> tuple[float, float]:
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)
