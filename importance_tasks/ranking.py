"""Ranks and the consensus ranking across methods."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from importance_tasks.result import Importance

__all__ = ["Consensus", "consensus", "rank_descending"]


def rank_descending(values: NDArray[np.float64], *, ties: str = "min") -> NDArray[np.int64]:
    """Rank so that the largest value gets 1.

    Parameters
    ----------
    values : ndarray of shape (n,)
    ties : {"min", "average"}
        ``"min"`` gives tied values the best rank they share (integers);
        ``"average"`` gives them the mean of the ranks they span.

    NaN (a feature that could not be evaluated) ranks after every number.
    """
    from scipy.stats import rankdata

    keys = np.where(np.isnan(values), np.inf, -np.asarray(values, dtype=np.float64))
    ranked = rankdata(keys, method=ties)
    return ranked.astype(np.int64) if ties == "min" else ranked


@dataclass(frozen=True)
class Consensus:
    """One ranking combined from several methods' rankings.

    Attributes
    ----------
    features : tuple of str
    mean_rank : ndarray of shape (n_features,)
        Mean over methods of each feature's rank (tied features take their average rank).
    rank : ndarray of shape (n_features,)
        Rank of ``mean_rank``, 1 = most important; equal mean ranks share the best rank.
    methods : tuple of str
        The methods it combines.
    """

    features: tuple[str, ...]
    mean_rank: NDArray[np.float64]
    rank: NDArray[np.int64]
    methods: tuple[str, ...]

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {"rank": dict(zip(self.features, map(int, self.rank), strict=True))}


def consensus(results: Sequence[Importance]) -> Consensus:
    """Combine the rankings of several methods into one, by mean rank."""
    if not results:
        raise ValueError("consensus needs at least one method's result")
    features = results[0].features
    for result in results[1:]:
        if result.features != features:
            raise ValueError(
                f"method {result.method!r} ranks {result.features}, "
                f"but {results[0].method!r} ranks {features}: group features the same way"
            )
    ranks = np.vstack([rank_descending(r.mean, ties="average") for r in results])
    mean_rank = ranks.mean(axis=0)
    return Consensus(
        features=features,
        mean_rank=mean_rank,
        rank=rank_descending(-mean_rank),
        methods=tuple(r.method for r in results),
    )
