"""One version's consensus ranking against the previous version's: rank correlations, the
features that moved, and drift of the top k by nDCG@k."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from importance_tasks.ranking.top_weighted import ndcg_at_k
from importance_tasks.ranking.uncertainty import DEFAULT_TOP_K

__all__ = ["DEFAULT_DRIFT_THRESHOLD", "Comparison", "compare"]

DEFAULT_DRIFT_THRESHOLD = 0.9


@dataclass(frozen=True)
class Comparison:
    """One version's consensus ranking against the previous version's.

    Attributes
    ----------
    features : tuple of str
        Features both versions rank, in the current version's order.
    previous_rank, current_rank : ndarray of shape (n_features,)
    spearman, kendall : float
        Rank correlations (NaN with fewer than two common features).
    added, removed : tuple of str
        Features only the current / only the previous version has.
    ndcg : float
        nDCG@k of the current ranking against the previous one (``top_weighted.ndcg_at_k``):
        1 = the same top k in the same order.
    k : int
    threshold : float
        nDCG below it is drift (SageMaker Clarify's default, 0.9).
    """

    features: tuple[str, ...]
    previous_rank: NDArray[np.float64]
    current_rank: NDArray[np.float64]
    spearman: float
    kendall: float
    added: tuple[str, ...]
    removed: tuple[str, ...]
    ndcg: float = float("nan")
    k: int = DEFAULT_TOP_K
    threshold: float = DEFAULT_DRIFT_THRESHOLD

    @property
    def drifted(self) -> bool:
        """The top of the ranking moved: nDCG@k below the threshold."""
        return bool(self.ndcg < self.threshold)

    def movers(self, k: int = 5) -> list[tuple[str, int]]:
        """Up to ``k`` features whose rank moved most, with the move (positive = up)."""
        moves = self.previous_rank - self.current_rank
        order = np.argsort(-np.abs(moves), kind="stable")
        return [(self.features[i], int(moves[i])) for i in order[:k] if moves[i] != 0]

    def to_record(self) -> dict[str, Any]:
        """JSON (``comparison.json``, with the previous version); ``from_record`` restores it."""
        return {
            "spearman": self.spearman,
            "kendall": self.kendall,
            "movers": self.movers(),
            "previous_rank": dict(zip(self.features, self.previous_rank.tolist(), strict=True)),
            "current_rank": dict(zip(self.features, self.current_rank.tolist(), strict=True)),
            "added": list(self.added),
            "removed": list(self.removed),
            "ndcg": self.ndcg,
            "k": self.k,
            "threshold": self.threshold,
            "drifted": self.drifted,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Comparison:
        features = tuple(record["current_rank"])
        return cls(
            features=features,
            previous_rank=np.array([record["previous_rank"][f] for f in features], np.float64),
            current_rank=np.array([record["current_rank"][f] for f in features], np.float64),
            spearman=float(record["spearman"]),
            kendall=float(record["kendall"]),
            added=tuple(record["added"]),
            removed=tuple(record["removed"]),
            ndcg=float(record.get("ndcg", float("nan"))),  # absent before drift by nDCG
            k=int(record.get("k", DEFAULT_TOP_K)),
            threshold=float(record.get("threshold", DEFAULT_DRIFT_THRESHOLD)),
        )


def compare(
    previous: Mapping[str, float],
    current: Mapping[str, float],
    *,
    k: int = DEFAULT_TOP_K,
    threshold: float = DEFAULT_DRIFT_THRESHOLD,
) -> Comparison:
    """Compare two rankings given as feature -> rank (1 = most important): rank correlations
    over the common features, and drift of the top ``k`` by nDCG@k against ``threshold``."""
    from scipy.stats import kendalltau, spearmanr

    common = tuple(f for f in current if f in previous)
    prev = np.array([previous[f] for f in common], dtype=np.float64)
    curr = np.array([current[f] for f in common], dtype=np.float64)
    if len(common) >= 2:
        # Identical rankings give 0.9999999999999999 from scipy on some rank vectors; twelve
        # decimals are far below any difference between rankings of a few thousand features.
        rho = round(float(spearmanr(prev, curr).statistic), 12)
        tau = round(float(kendalltau(prev, curr).statistic), 12)
    else:
        rho = tau = float("nan")
    return Comparison(
        features=common,
        previous_rank=prev,
        current_rank=curr,
        spearman=rho,
        kendall=tau,
        added=tuple(f for f in current if f not in previous),
        removed=tuple(f for f in previous if f not in current),
        ndcg=ndcg_at_k(previous, current, k=k),
        k=k,
        threshold=threshold,
    )
