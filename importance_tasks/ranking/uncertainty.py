"""How sure a ranking is: rank intervals, the chance of being in the top k, and ties.

A ranking shown as a strict order reads as if every step were known; two features whose
importance differs by less than its own noise are in fact too close to call. Each method
already has what its noise is made of, and the ranking is redrawn from it:

- a method with repeats (``permutation``, ``probe``: one value per shuffle or bootstrap
  resample and feature) is redrawn by resampling its repeats with replacement and averaging
  them, which keeps the dependence between features that share a shuffle;
- any other method is redrawn from its 95% interval of the mean (over rows, or SAGE's
  standard errors) as independent normal draws with that width;
- a method without randomness (``weights``) has one ranking, its intervals are points.

From ``n_draws`` redrawn rankings: each feature's 95% rank interval (2.5% and 97.5% quantiles
of its ranks) and the share of draws with the feature in the top ``k``. The consensus is
redrawn from the methods' draws (draw ``b`` of every method, mean rank, rank of that), so
its intervals carry every method's noise. Features are *tied* when their intervals overlap the
interval of the best-ranked feature of their tie group (walked in rank order): they share its
rank in every display.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from importance_tasks.result import Importance, rank_descending

__all__ = [
    "DEFAULT_DRAWS",
    "DEFAULT_TOP_K",
    "RankIntervals",
    "draw_ranks",
    "intervals_of",
    "rank_intervals",
    "tie_ranks",
]

DEFAULT_DRAWS = 500
DEFAULT_TOP_K = 5
Z_95 = 1.959963984540054


@dataclass(frozen=True)
class RankIntervals:
    """Rank intervals of one ranking.

    Attributes
    ----------
    features : tuple of str
    low, high : ndarray of int, shape (n_features,)
        The 95% interval of each feature's rank (1 = most important).
    p_top : ndarray of shape (n_features,)
        Share of the redrawn rankings with the feature in the top ``k``.
    k : int
    """

    features: tuple[str, ...]
    low: NDArray[np.int64]
    high: NDArray[np.int64]
    p_top: NDArray[np.float64]
    k: int

    def to_record(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "interval": {
                f: [int(lo), int(hi)]
                for f, lo, hi in zip(self.features, self.low, self.high, strict=True)
            },
            "p_top": dict(zip(self.features, np.round(self.p_top, 4).tolist(), strict=True)),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> RankIntervals:
        features = tuple(record["interval"])
        bounds = np.array([record["interval"][f] for f in features], dtype=np.int64)
        return cls(
            features=features,
            low=bounds[:, 0],
            high=bounds[:, 1],
            p_top=np.array([record["p_top"][f] for f in features], dtype=np.float64),
            k=int(record["k"]),
        )


def draw_ranks(
    result: Importance, *, n_draws: int = DEFAULT_DRAWS, seed: int = 0
) -> NDArray[np.float64]:
    """Redrawn rankings of ``result``: ndarray of shape (n_draws, n_features), tied values
    taking their average rank, NaN (not evaluable) ranked last."""
    rng = np.random.default_rng([seed, 7])
    mean = result.mean
    repeats = result.repeats
    if repeats is not None and repeats.shape[1] >= 2:
        picks = rng.integers(0, repeats.shape[1], size=(n_draws, repeats.shape[1]))
        draws = repeats[:, picks].mean(axis=2).T
    else:
        sd = np.nan_to_num((result.ci_high - result.ci_low) / (2 * Z_95), nan=0.0)
        draws = mean + np.clip(sd, 0, None) * rng.standard_normal((n_draws, len(mean)))
    return np.asarray(rank_descending(draws, ties="average"), dtype=np.float64)


def intervals_of(
    draws: NDArray[np.float64],
    point: NDArray[np.int64],
    features: Sequence[str],
    *,
    k: int,
) -> RankIntervals:
    """Intervals from redrawn ranks (n_draws, n_features), widened to hold the ranking's own
    rank ``point`` (the point ranking is one plausible draw)."""
    low = np.floor(np.quantile(draws, 0.025, axis=0)).astype(np.int64)
    high = np.ceil(np.quantile(draws, 0.975, axis=0)).astype(np.int64)
    return RankIntervals(
        features=tuple(features),
        low=np.minimum(low, point),
        high=np.maximum(high, point),
        p_top=(draws <= k).mean(axis=0),
        k=k,
    )


def rank_intervals(
    result: Importance, *, k: int, n_draws: int = DEFAULT_DRAWS, seed: int | None = None
) -> RankIntervals:
    """One method's rank intervals and chance of being in the top ``k``; seeded by the
    method's own seed unless given."""
    if seed is None:
        seed = int(result.settings.get("seed", 0) or 0)
    draws = draw_ranks(result, n_draws=n_draws, seed=seed)
    return intervals_of(draws, result.rank, result.features, k=k)


def tie_ranks(
    rank: NDArray[np.int64], low: NDArray[np.int64], high: NDArray[np.int64]
) -> NDArray[np.int64]:
    """The rank each feature is shown with: walking in rank order, a feature whose interval
    reaches into the interval of the current group's first feature joins that group and
    shares its rank; otherwise it starts a group of its own."""
    order = np.argsort(rank, kind="stable")
    shown = rank.copy()
    leader = -1
    for i in order:
        if leader >= 0 and low[i] <= high[leader]:
            shown[i] = rank[leader]
        else:
            leader = int(i)
    return shown
