"""The one result type every importance method returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from importance_tasks.ranking import rank_descending

__all__ = ["Importance"]


@dataclass(frozen=True)
class Importance:
    """Global importance of each feature (or feature group) by one method.

    Parameters
    ----------
    method : str
        Registry name of the method that produced it (also the MLflow key prefix).
    features : tuple of str
        Row labels: a column name, or a group name for a group of columns.
    mean : ndarray of shape (n_features,)
        Importance of each row; larger means more important.
    std : ndarray of shape (n_features,)
        Spread of the importance (over repeats, bootstrap resamples or rows).
    repeats : ndarray of shape (n_features, n_repeats) or None
        Raw per-repeat values where the method has them.
    groups : mapping of str to tuple of str
        For each row label, the data columns it stands for (one column unless grouped).
    settings : mapping of str to JSON-serialisable values
        The options the method ran with.
    seconds : float
        The method's own compute time, model loading excluded.
    ci_low, ci_high : ndarray of shape (n_features,)
        95% interval of ``mean``; equal to ``mean`` for a method without randomness.
    """

    method: str
    features: tuple[str, ...]
    mean: NDArray[np.float64]
    std: NDArray[np.float64]
    ci_low: NDArray[np.float64]
    ci_high: NDArray[np.float64]
    repeats: NDArray[np.float64] | None
    groups: Mapping[str, tuple[str, ...]]
    settings: Mapping[str, Any]
    seconds: float

    def __post_init__(self) -> None:
        n = len(self.features)
        for name in ("mean", "std", "ci_low", "ci_high"):
            values = np.asarray(getattr(self, name), dtype=np.float64)
            if values.shape != (n,):
                raise ValueError(f"Importance.{name} must have shape ({n},), got {values.shape}")
            object.__setattr__(self, name, values)
        if self.repeats is not None:
            repeats = np.asarray(self.repeats, dtype=np.float64)
            if repeats.ndim != 2 or repeats.shape[0] != n:
                raise ValueError(
                    f"Importance.repeats must have shape ({n}, n_repeats), got {repeats.shape}"
                )
            object.__setattr__(self, "repeats", repeats)
        if set(self.groups) != set(self.features):
            raise ValueError("Importance.groups must have one entry per feature label")

    @property
    def rank(self) -> NDArray[np.int64]:
        """Rank of each row, 1 = most important; ties share the best rank."""
        return rank_descending(self.mean)

    def as_dict(self) -> dict[str, Any]:
        """The per-method part of the CLI's ``--json`` shape."""
        return {
            "importance": dict(zip(self.features, map(float, self.mean), strict=True)),
            "std": dict(zip(self.features, map(float, self.std), strict=True)),
            "rank": dict(zip(self.features, map(int, self.rank), strict=True)),
            "seconds": float(self.seconds),
        }
