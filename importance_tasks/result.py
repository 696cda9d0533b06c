"""The one result type every importance method returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from importance_tasks.contract import MethodStatus

__all__ = ["Importance", "rank_descending"]


def rank_descending(values: NDArray[np.float64], *, ties: str = "min") -> NDArray[np.int64]:
    """Rank so that the largest value gets 1 (along the last axis: each row of a 2-D array is
    ranked on its own, as for redrawn rankings).

    Parameters
    ----------
    values : ndarray of shape (n,) or (n_rankings, n)
    ties : {"min", "average"}
        ``"min"`` gives tied values the best rank they share (integers);
        ``"average"`` gives them the mean of the ranks they span.

    NaN (a feature that could not be evaluated) ranks after every number.
    """
    from scipy.stats import rankdata

    keys = np.where(np.isnan(values), np.inf, -np.asarray(values, dtype=np.float64))
    ranked = rankdata(keys, method=ties, axis=-1)
    return ranked.astype(np.int64) if ties == "min" else ranked


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
        The options the method ran with (and its seed, scoring, rows, shards).
    seconds : float
        The method's own compute time, model loading excluded.
    ci_low, ci_high : ndarray of shape (n_features,)
        95% interval of ``mean``; equal to ``mean`` for a method without randomness.
    diagnostics : mapping of str to JSON-serialisable values
        What was found while computing, not chosen: ``per_class`` importance of a classifier,
        integrated gradients' ``completeness_gap``, ``not_evaluable`` features, the ``sanity``
        verdict.
    status : contract.MethodStatus, default=complete
        How far the result can be trusted (``contract.MethodStatus``): complete, the work
        decided ahead was done and is enough; incomplete, its time guard (``time_budget_s``)
        ended it first; insufficient, the work decided ahead is below what its estimate needs
        (SHAP on too few rows, SAGE not converged). Only complete results make the consensus.
    status_reason : str, default=""
        Why the status is not ``complete``.
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
    diagnostics: Mapping[str, Any] = field(default_factory=dict)
    status: str = MethodStatus.COMPLETE
    status_reason: str = ""

    def __post_init__(self) -> None:
        if self.status not in set(MethodStatus):
            raise ValueError(f"Importance.status={self.status!r}; one of {list(MethodStatus)}")
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

    def to_record(self) -> dict[str, Any]:
        """Everything in plain JSON types; ``from_record`` restores it exactly."""
        return {
            "method": self.method,
            "features": list(self.features),
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "ci_low": self.ci_low.tolist(),
            "ci_high": self.ci_high.tolist(),
            "repeats": None if self.repeats is None else self.repeats.tolist(),
            "groups": {k: list(v) for k, v in self.groups.items()},
            "settings": dict(self.settings),
            "seconds": self.seconds,
            "diagnostics": dict(self.diagnostics),
            "status": self.status,
            "status_reason": self.status_reason,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Importance:
        repeats = record["repeats"]
        return cls(
            method=record["method"],
            features=tuple(record["features"]),
            mean=np.asarray(record["mean"], dtype=np.float64),
            std=np.asarray(record["std"], dtype=np.float64),
            ci_low=np.asarray(record["ci_low"], dtype=np.float64),
            ci_high=np.asarray(record["ci_high"], dtype=np.float64),
            repeats=None if repeats is None else np.asarray(repeats, dtype=np.float64),
            groups={k: tuple(v) for k, v in record["groups"].items()},
            settings=dict(record["settings"]),
            seconds=float(record["seconds"]),
            diagnostics=dict(record.get("diagnostics", {})),
            status=record.get("status", MethodStatus.COMPLETE),
            status_reason=record.get("status_reason", ""),
        )

    def as_dict(self) -> dict[str, Any]:
        """The per-method part of the CLI's ``--json`` shape."""
        return {
            "importance": dict(zip(self.features, map(float, self.mean), strict=True)),
            "std": dict(zip(self.features, map(float, self.std), strict=True)),
            "rank": dict(zip(self.features, map(int, self.rank), strict=True)),
            "seconds": float(self.seconds),
            "settings": dict(self.settings),
            "status": self.status,
            **({"status_reason": self.status_reason} if self.status_reason else {}),
        }
