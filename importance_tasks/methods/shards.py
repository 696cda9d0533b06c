"""Row shards for the methods whose statistic is built from means of a loss over rows.

``permutation`` and ``probe`` (occlusion) compare the loss of perturbed copies of the rows with
the loss of the rows themselves. Split the (sampled) rows into shards of at most ``shard_rows``
consecutive rows; within a shard, a permutation (or a bootstrap resample) only mixes rows of
that shard, so each shard is computed on its own, in its own task if wanted, from its own seed
``(seed, shard)``. Each part keeps the shard's losses with the shard's total row weight, and
``combine`` weights them back into the losses over all rows: the same numbers whether the shards
ran in one process or in many (to float rounding). A single shard is the classic method
(one permutation of all rows), so results with fewer rows than ``shard_rows`` are unchanged.

Only losses that are means over rows (mse, mae, log_loss, accuracy) combine this way; r2 and
roc_auc are not, and more than one shard with them is refused.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from importance_tasks.data import EvalData
from importance_tasks.errors import InputError
from importance_tasks.methods._common import (
    DEFAULT_MAX_BATCH_BYTES,
    ProgressFn,
    Sample,
    cluster_importance,
    sample_size,
    settings_of,
)
from importance_tasks.methods.base import (
    Run,
    Seeded,
    column_groups,
    integer,
    option,
    rows_option,
)
from importance_tasks.model import Model
from importance_tasks.result import Importance
from importance_tasks.scoring import Scorer

Array = NDArray[np.float64]

__all__ = [
    "DEFAULT_SHARD_ROWS",
    "ShardPart",
    "ShardRows",
    "Sharded",
    "check_mean_loss",
    "combine_losses",
    "row_weight",
    "shard_bounds",
    "shard_count",
    "shard_rows_of",
]

DEFAULT_SHARD_ROWS = 250_000


def shard_count(n_rows: int, shard_rows: int) -> int:
    """Shards of at most ``shard_rows`` rows covering ``n_rows`` rows, balanced in size."""
    return max(1, math.ceil(n_rows / shard_rows))


def shard_bounds(n_rows: int, n_shards: int, shard: int) -> tuple[int, int]:
    """The first and past-the-end row of ``shard`` when ``n_rows`` split into ``n_shards``."""
    if not 0 <= shard < n_shards:
        raise InputError(f"shard must be in 0..{n_shards - 1}, got {shard}")
    edges = np.linspace(0, n_rows, n_shards + 1).round().astype(int)
    return int(edges[shard]), int(edges[shard + 1])


@dataclass(frozen=True)
class ShardRows:
    """One shard of a method's sample: its rows, and the generator for its randomness (the
    sample's own when there is one shard, so unsharded results stay the classic method's)."""

    n_shards: int
    X: NDArray[np.float32]
    y: NDArray[Any]
    weight: NDArray[np.float64] | None
    rng: np.random.Generator


def shard_rows_of(sample: Sample, *, shard: int, shard_rows: int, seed: int) -> ShardRows:
    n_shards = shard_count(sample.X.shape[0], shard_rows)
    lo, hi = shard_bounds(sample.X.shape[0], n_shards, shard)
    return ShardRows(
        n_shards=n_shards,
        X=sample.X[lo:hi],
        y=sample.y[lo:hi],
        weight=None if sample.weight is None else sample.weight[lo:hi],
        rng=sample.rng if n_shards == 1 else np.random.default_rng([seed, shard]),
    )


class Sharded(Seeded):
    """A method built from means of a loss over rows (permutation, probe): its rows computed
    in shards, each apart (``compute_shard``, in this process or a task of its own), combined
    by ``combine``: ``measure`` is every shard here, combined."""

    max_samples: float | int = rows_option(1.0, help="rows used, drawn once")
    cluster_groups: Mapping[str, Sequence[str]] = option(
        default_factory=dict,
        help="clusters of dependent columns, each also perturbed as one group beside them",
        check=column_groups,
        from_analysis=True,
    )
    max_batch_bytes: int = option(
        DEFAULT_MAX_BATCH_BYTES,
        help="memory for the stacked copies fed to one forward call",
        schema=integer(),
    )
    shard_rows: int = option(
        DEFAULT_SHARD_ROWS,
        help="rows per shard: larger data is split into shards computed as parallel tasks",
        schema=integer(2),
    )

    def n_shards(self, n_rows: int) -> int:
        """Shards for evaluation data of ``n_rows`` rows (after ``max_samples``)."""
        return shard_count(sample_size(n_rows, self.max_samples), self.shard_rows)

    def measure(self, run: Run) -> Importance:
        parts = [self.measure_shard(run, k) for k in range(self.n_shards(run.data.n_rows))]
        return self.combine(parts)

    def compute_shard(
        self,
        model: Model,
        data: EvalData,
        *,
        shard: int,
        scoring: str = "auto",
        progress: ProgressFn | None = None,
    ) -> ShardPart:
        """One shard's losses (the ``shard``-th of ``n_shards``), in a task of its own."""
        return self.measure_shard(Run(model, data, scoring, progress, time.perf_counter()), shard)

    def _combined(
        self,
        parts: Sequence[ShardPart],
        estimate: tuple[Array, Array, Array, Array, Array | None],
        *,
        settings: Mapping[str, Any],
        diagnostics: Mapping[str, Any],
    ) -> Importance:
        """The result from the combined ``estimate`` (mean, std, 95% interval, repeats or
        None) of every row of the parts: the features', then the clusters' (reported in
        ``diagnostics["cluster_importance"]``)."""
        meta = parts[0].meta
        mean, std, low, high, repeats = estimate
        n_rows = len(meta["features"]) - int(meta.get("cluster_rows", 0))
        diagnostics = dict(diagnostics)
        if n_rows < len(meta["features"]):
            diagnostics["cluster_importance"] = cluster_importance(
                meta, n_rows, mean=mean, std=std, low=low, high=high
            )
        return Importance(
            method=self.name,
            features=tuple(meta["features"][:n_rows]),
            mean=mean[:n_rows],
            std=std[:n_rows],
            ci_low=low[:n_rows],
            ci_high=high[:n_rows],
            repeats=None if repeats is None else repeats[:n_rows],
            groups={k: tuple(meta["groups"][k]) for k in meta["features"][:n_rows]},
            settings=settings_of(
                seed=self.seed,
                max_samples=self.max_samples,
                n_rows=meta["n_rows"],
                groups=self.groups,
                cluster_groups=self.cluster_groups,
                scoring=meta["scoring"],
                shard_rows=self.shard_rows,
                n_shards=parts[0].n_shards,
                **settings,
            ),
            seconds=sum(float(p.meta["seconds"]) for p in parts),
            diagnostics=diagnostics,
        )

    def measure_shard(self, run: Run, shard: int) -> ShardPart:
        """The method on one shard of rows (what ``compute_shard`` runs)."""
        raise NotImplementedError

    def combine(self, parts: Sequence[ShardPart]) -> Importance:
        """The importance over all rows from the parts of every shard."""
        raise NotImplementedError


def check_mean_loss(scorer: Scorer, n_shards: int) -> None:
    if n_shards > 1 and not scorer.mean_over_rows:
        raise InputError(
            f"scoring={scorer.name!r} is not a mean over rows, so {n_shards} row shards cannot "
            "be combined; use mse/mae (regression) or log_loss/accuracy (classification), or "
            "raise shard_rows above the number of rows"
        )


@dataclass(frozen=True)
class ShardPart:
    """One shard's losses: ``losses[name]`` are loss means over the shard's rows and
    ``weights[name]`` the total row weight each mean is over (same shapes)."""

    method: str
    shard: int
    n_shards: int
    losses: Mapping[str, NDArray[np.float64]]
    weights: Mapping[str, NDArray[np.float64]]
    meta: Mapping[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "shard": self.shard,
            "n_shards": self.n_shards,
            "losses": {k: np.asarray(v).tolist() for k, v in self.losses.items()},
            "weights": {k: np.asarray(v).tolist() for k, v in self.weights.items()},
            "meta": dict(self.meta),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ShardPart:
        return cls(
            method=record["method"],
            shard=int(record["shard"]),
            n_shards=int(record["n_shards"]),
            losses={k: np.asarray(v, dtype=np.float64) for k, v in record["losses"].items()},
            weights={k: np.asarray(v, dtype=np.float64) for k, v in record["weights"].items()},
            meta=record.get("meta", {}),
        )


def combine_losses(parts: Sequence[ShardPart]) -> dict[str, NDArray[np.float64]]:
    """The losses over all rows: each name's weighted mean over the shards."""
    if not parts:
        raise InputError("no shard parts to combine")
    n_shards = parts[0].n_shards
    if sorted(p.shard for p in parts) != list(range(n_shards)):
        raise InputError(
            f"need each of the {n_shards} shards exactly once, got {[p.shard for p in parts]}"
        )
    if len(parts) == 1:
        return {k: np.asarray(v, dtype=np.float64) for k, v in parts[0].losses.items()}
    combined = {}
    for name in parts[0].losses:
        total = sum(np.asarray(p.weights[name]) for p in parts)
        weighted = sum(np.asarray(p.losses[name]) * np.asarray(p.weights[name]) for p in parts)
        with np.errstate(invalid="ignore", divide="ignore"):
            combined[name] = np.where(total > 0, weighted / np.where(total > 0, total, 1), 0.0)
    return combined


def row_weight(weight: NDArray[np.float64] | None, n_rows: int) -> float:
    return float(n_rows if weight is None else weight.sum())
