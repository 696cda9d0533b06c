"""Conditional permutation importance: shuffle a feature only among rows whose correlated
partners are alike (Strobl, Boulesteix, Kneib, Augustin & Zeileis 2008).

Marginal permutation breaks a feature's dependence on its twins and makes the model predict on
rows that never occur (Hooker, Mentch & Zhou 2021); a feature that the model uses only through
what its twin also carries then looks important. Here each feature's partners are the other
features of its dependence cluster (``importance_tasks.dependence``); its values are shuffled
within strata of the partners (equal-frequency bins of the partners' mean standardised rank, or
each category of a single categorical partner). What remains is the importance the feature has
beyond what its partners carry. A feature without partners is shuffled as in ``permutation``,
with the same permutations for the same seed, so its conditional importance equals its marginal
importance exactly and the gap between the two names the features whose importance is shared.

Batched, sharded and run through the low-rank path as ``permutation`` is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from importance_tasks.dependence import (
    DEFAULT_THRESHOLD,
    THRESHOLD_SCHEMA,
    Dependence,
    dependence,
    given_clusters,
)
from importance_tasks.methods._common import FeatureRow, Sample
from importance_tasks.methods.base import integer, option
from importance_tasks.methods.permutation import Permutation
from importance_tasks.methods.shards import ShardRows

__all__ = ["ConditionalPermutation"]

MIN_STRATUM_ROWS = 20


class ConditionalPermutation(Permutation):
    """Conditional permutation importance (Strobl et al. 2008), with partners from the data's
    dependence clusters.

    Parameters
    ----------
    n_repeats, random_state, max_samples, groups, max_batch_bytes, shard_rows
        As ``Permutation``.
    cluster_groups : mapping of str to sequence of str, optional
        The clusters of dependent columns (the analysis's ``clusters``): a feature's partners
        are the other columns of its cluster. Without them, the clusters are measured on the
        method's own rows at ``cluster_threshold``.
    cluster_threshold : float in (0, 1], default=0.7
        The least average dependence within a cluster of partners.
    n_strata : int, default=10
        Equal-frequency strata of the partners (fewer when a stratum would hold fewer than
        20 rows).

    References
    ----------
    C. Strobl et al., "Conditional variable importance for random forests", BMC
    Bioinformatics 9:307, 2008. doi:10.1186/1471-2105-9-307
    """

    name: ClassVar[str] = "conditional_permutation"
    label: ClassVar[str] = "cond"
    per_step: ClassVar[bool] = False

    cluster_threshold: float = option(
        DEFAULT_THRESHOLD,
        help="the least average dependence within a cluster of partners",
        schema=THRESHOLD_SCHEMA,
    )
    n_strata: int = option(10, help="equal-frequency strata of the partners", schema=integer())

    @property
    def partner_clusters(self) -> tuple[tuple[str, ...], ...]:
        """The clusters whose other columns are a feature's partners. Partners here, not extra
        rows: a cluster shuffled as a whole has no partner left, so its conditional importance
        would repeat the marginal one that permutation reports."""
        return tuple(tuple(c) for c in self.cluster_groups.values())

    def _cluster_rows(self, feature_names: Sequence[str]) -> list[FeatureRow]:
        return []

    def _row_permutations(
        self, sample: Sample, part: ShardRows, shard: int, coded: NDArray[np.bool_]
    ) -> tuple[list[NDArray[np.intp]], dict[str, Any]]:
        shared = super()._row_permutations(sample, part, shard, coded)[0]
        found = self._dependence(sample, coded)
        rng = np.random.default_rng([self.seed, shard, 1])
        out, partners = [], {}
        standardised: dict[int, NDArray[np.float64]] = {}  # ranks of each partner column, once
        for row, marginal in zip(sample.rows, shared, strict=True):
            mates = _partners(found, row)
            partners[row.label] = list(mates)
            if not mates:
                out.append(marginal)
                continue
            strata = _strata(part.X, found, mates, self.n_strata, standardised)
            grouped = np.argsort(strata, kind="stable")
            out.append(np.stack([_within(strata, rng, grouped) for _ in range(self.n_repeats)]))
        extra = {
            "partners": partners,
            "clusters": [list(c) for c in found.clusters],
        }
        return out, extra

    def _dependence(self, sample: Sample, coded: NDArray[np.bool_]) -> Dependence:
        """The given clusters, or clusters measured on the whole sample (so every shard uses
        the same partners)."""
        names = [""] * sample.X.shape[1]
        for row in sample.rows:
            for column, name in zip(row.columns, row.names, strict=True):
                names[column] = name
        if self.partner_clusters:
            return given_clusters(names, self.partner_clusters, self.cluster_threshold)
        return dependence(
            sample.X, names, categorical=coded, threshold=self.cluster_threshold, seed=self.seed
        )

    def _settings(self) -> dict[str, Any]:
        return {"cluster_threshold": self.cluster_threshold, "n_strata": self.n_strata}


def _partners(found: Dependence, row: FeatureRow) -> tuple[str, ...]:
    """The features of the clusters of ``row``'s columns, outside ``row``."""
    mates: list[str] = []
    for name in row.names:
        mates.extend(p for p in found.partners(name) if p not in row.names and p not in mates)
    return tuple(mates)


def _strata(
    X: NDArray[np.float32],
    found: Dependence,
    mates: tuple[str, ...],
    n_strata: int,
    standardised: dict[int, NDArray[np.float64]] | None = None,
) -> NDArray[np.intp]:
    """Each row's stratum: equal-frequency bins of the partners' mean standardised rank.
    ``standardised`` caches each column's standardised ranks between features."""
    cache = {} if standardised is None else standardised
    position = {name: i for i, name in enumerate(found.features)}
    columns = [position[m] for m in mates]
    for j in columns:
        if j not in cache:
            cache[j] = _standardised_ranks(X[:, j])
    score = np.asarray(np.mean([cache[j] for j in columns], axis=0), dtype=np.float64)
    count = max(1, min(n_strata, len(X) // MIN_STRATUM_ROWS))
    values = np.unique(score)
    if len(values) <= count:  # few distinct values (categories): one stratum each
        return np.asarray(np.searchsorted(values, score), dtype=np.intp)
    edges = np.quantile(score, np.linspace(0, 1, count + 1)[1:-1])
    return np.asarray(np.searchsorted(edges, score, side="right"), dtype=np.intp)


def _standardised_ranks(values: NDArray[np.float32]) -> NDArray[np.float64]:
    from scipy.stats import rankdata

    ranks = np.asarray(rankdata(values), dtype=np.float64)
    spread = ranks.std()
    return (ranks - ranks.mean()) / (spread if spread > 0 else 1.0)


def _within(
    strata: NDArray[np.intp],
    rng: np.random.Generator,
    grouped: NDArray[np.intp] | None = None,
) -> NDArray[np.intp]:
    """A permutation of the rows that moves each row only within its stratum: the rows of
    each stratum in their order (``grouped``, the stable sort by stratum) take the rows of the
    same stratum in a random order (one sort of stratum + a random key in [0, 1))."""
    if grouped is None:
        grouped = np.argsort(strata, kind="stable")
    shuffled = np.argsort(strata + rng.random(len(strata)))
    permutation = np.empty(len(strata), dtype=np.intp)
    permutation[grouped] = shuffled
    return permutation
