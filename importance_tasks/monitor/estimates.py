"""Each method's importance with a standard error that counts the rows sampled.

Two analyses of the same model on two samples of one distribution differ by the rows drawn,
not only by a method's own randomness; a drift test must know by how much. Permutation's
interval (over its shuffles of fixed rows) does not say it. A method built from means over
rows (``methods.shards.Sharded``: permutation, probe) is therefore computed in ``BLOCKS``
blocks of rows (its own shards, each shuffled within itself, drawn after one seeded shuffle of
the rows): the importance is the blocks combined as the method combines its shards, and its
standard error the spread of the blocks' importances over sqrt(BLOCKS) (batch means, with
``BLOCKS - 1`` degrees of freedom). A method that is a mean over rows of its own (SHAP,
integrated gradients, LIME: its interval is over the rows explained) keeps its 95% interval,
read as a normal one.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from importance_tasks.data import EvalData
from importance_tasks.methods import ImportanceMethod
from importance_tasks.methods._common import sample_size
from importance_tasks.methods.shards import Sharded
from importance_tasks.model import Model
from importance_tasks.result import Importance

__all__ = ["BLOCKS", "Estimate", "estimate", "shuffled_rows"]

BLOCKS = 10
Z95 = 1.959963984540054
LARGE_DF = 1_000  # a normal interval's degrees of freedom, for the test


@dataclass(frozen=True)
class Estimate:
    """One method's importance of each feature, its standard error and degrees of freedom."""

    method: str
    features: tuple[str, ...]
    mean: NDArray[np.float64]
    se: NDArray[np.float64]
    df: int
    groups: Mapping[str, tuple[str, ...]]
    n_rows: int

    @property
    def low(self) -> NDArray[np.float64]:
        return self.mean - Z95 * self.se

    @property
    def high(self) -> NDArray[np.float64]:
        return self.mean + Z95 * self.se

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "features": list(self.features),
            "mean": self.mean.tolist(),
            "se": self.se.tolist(),
            "df": self.df,
            "groups": {k: list(v) for k, v in self.groups.items()},
            "rows": self.n_rows,
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Estimate:
        return cls(
            method=str(record["method"]),
            features=tuple(record["features"]),
            mean=np.asarray(record["mean"], dtype=np.float64),
            se=np.asarray(record["se"], dtype=np.float64),
            df=int(record["df"]),
            groups={k: tuple(v) for k, v in record["groups"].items()},
            n_rows=int(record["rows"]),
        )

    def of(self, feature: str) -> float:
        return float(self.mean[self.features.index(feature)])


def shuffled_rows(data: EvalData, *, seed: int) -> EvalData:
    """The rows in one seeded order, so that blocks of consecutive rows are random samples
    (a table in time order would make neighbouring blocks alike)."""
    order = np.random.default_rng([seed, 0x6D6F6E]).permutation(data.n_rows)
    weight = None if data.sample_weight is None else data.sample_weight[order]
    return dataclasses.replace(data, X=data.X[order], y=data.y[order], sample_weight=weight)


def estimate(method: ImportanceMethod, model: Model, data: EvalData, *, scoring: str) -> Estimate:
    """``method``'s importance on ``data`` with its standard error (see the module)."""
    if isinstance(method, Sharded):
        return _in_blocks(method, model, data, scoring=scoring)
    found = method.compute(model, data, scoring=scoring)
    return Estimate(
        method=found.method,
        features=found.features,
        mean=found.mean,
        se=(found.ci_high - found.ci_low) / (2 * Z95),
        df=LARGE_DF,
        groups=found.groups,
        n_rows=_rows(found, data),
    )


def _in_blocks(method: Sharded, model: Model, data: EvalData, *, scoring: str) -> Estimate:
    used = sample_size(data.n_rows, method.max_samples)
    blocked = dataclasses.replace(method, shard_rows=max(math.ceil(used / BLOCKS), 2))
    n_blocks = blocked.n_shards(data.n_rows)
    parts = [blocked.compute_shard(model, data, shard=k, scoring=scoring) for k in range(n_blocks)]
    whole = blocked.combine(parts)
    if n_blocks < 2:
        return Estimate(
            whole.method, whole.features, whole.mean, np.zeros_like(whole.mean), 1,
            whole.groups, data.n_rows,
        )  # fmt: skip
    each = np.array(
        [blocked.combine([dataclasses.replace(p, shard=0, n_shards=1)]).mean for p in parts]
    )
    return Estimate(
        method=whole.method,
        features=whole.features,
        mean=whole.mean,
        se=each.std(axis=0, ddof=1) / math.sqrt(n_blocks),
        df=n_blocks - 1,
        groups=whole.groups,
        n_rows=data.n_rows,
    )


def _rows(found: Importance, data: EvalData) -> int:
    return int(found.settings.get("n_rows") or data.n_rows)
