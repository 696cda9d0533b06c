"""Dependence between the features of the evaluation data, and clusters of dependent features.

When features are dependent, marginal permutation makes the model extrapolate to rows that
never occur, and Shapley-style methods split credit between the twins in ways that depend on
their value function: the methods disagree for reasons a reader cannot see. This module
measures the dependence on the data and groups the features that move together, so that the
analysis can rank the groups, compute conditional importance within them, and explain the
disagreement.

Every measure is in [0, 1] (0: no dependence found, 1: one determines the other):

- two numeric columns: |Spearman's rho| (monotone dependence, robust to scale);
- two categorical (coded) columns: Cramér's V;
- a numeric and a categorical column: the correlation ratio eta of the numeric column's ranks
  over the categories.

Clusters come from average-linkage hierarchical clustering (scipy) on ``1 - dependence``, cut
so that the features of a cluster depend on each other by at least ``threshold`` on average.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from importance_tasks.data import EvalData
from importance_tasks.errors import InputError

__all__ = [
    "DEFAULT_THRESHOLD",
    "THRESHOLD_SCHEMA",
    "Dependence",
    "data_dependence",
    "dependence",
    "given_clusters",
]

DEFAULT_THRESHOLD = 0.7
# What a cluster threshold may be, declared once: the analysis's ``cluster_threshold`` and
# conditional permutation's option check it (the functions here take it checked).
THRESHOLD_SCHEMA = {"type": "number", "exclusiveMinimum": 0, "maximum": 1}
MAX_ROWS = 20_000  # rows the dependence is measured on (a seeded sample beyond that)


@dataclass(frozen=True)
class Dependence:
    """Pairwise dependence of the features and their clusters.

    Attributes
    ----------
    features : tuple of str
    matrix : ndarray of shape (n_features, n_features)
        Dependence in [0, 1], 1 on the diagonal.
    measures : ndarray of str, shape (n_features, n_features)
        Which measure each entry is (``spearman``, ``cramers_v``, ``eta``).
    clusters : tuple of tuple of str
        Features that depend on each other by at least ``threshold`` on average: only clusters
        of two or more, in the order of their first feature.
    order : tuple of int
        The features in the dendrogram's leaf order (a clustered map shows them so).
    threshold : float
    """

    features: tuple[str, ...]
    matrix: NDArray[np.float64]
    measures: NDArray[np.str_]
    clusters: tuple[tuple[str, ...], ...]
    order: tuple[int, ...]
    threshold: float

    def cluster_of(self, feature: str) -> tuple[str, ...]:
        """The cluster ``feature`` is in (itself alone when in none)."""
        for cluster in self.clusters:
            if feature in cluster:
                return cluster
        return (feature,)

    def partners(self, feature: str) -> tuple[str, ...]:
        """The other features of ``feature``'s cluster."""
        return tuple(f for f in self.cluster_of(feature) if f != feature)

    def to_dict(self) -> dict[str, object]:
        """JSON (``dependence.json``); ``from_dict`` restores it."""
        return {
            "features": list(self.features),
            "matrix": np.round(self.matrix, 6).tolist(),
            "measures": self.measures.tolist(),
            "clusters": [list(c) for c in self.clusters],
            "order": list(self.order),
            "threshold": self.threshold,
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Dependence:
        return cls(
            features=tuple(record["features"]),
            matrix=np.asarray(record["matrix"], dtype=np.float64),
            measures=np.asarray(record["measures"], dtype="<U9"),
            clusters=tuple(tuple(c) for c in record["clusters"]),
            order=tuple(int(i) for i in record["order"]),
            threshold=float(record["threshold"]),
        )

    def within(self, cluster: Sequence[str]) -> float:
        """The mean dependence between the features of ``cluster``."""
        index = [self.features.index(f) for f in cluster]
        block = self.matrix[np.ix_(index, index)]
        n = len(index)
        return float((block.sum() - n) / (n * (n - 1))) if n > 1 else 1.0


def given_clusters(
    features: Sequence[str], clusters: Sequence[Sequence[str]], threshold: float
) -> Dependence:
    """A ``Dependence`` that knows only ``clusters`` (given, not measured): its matrix is 1
    within a cluster and 0 elsewhere. Enough for ``partners`` and ``cluster_of``."""
    features = tuple(features)
    index = {f: i for i, f in enumerate(features)}
    matrix = np.eye(len(features))
    kept = []
    for cluster in clusters:
        members = [index[f] for f in cluster if f in index]
        if len(members) > 1:
            matrix[np.ix_(members, members)] = 1.0
            kept.append(tuple(features[i] for i in members))
    measures = np.full(matrix.shape, "given", dtype="<U9")
    return Dependence(
        features, matrix, measures, tuple(kept), tuple(range(len(features))), threshold
    )


def data_dependence(
    data: EvalData, *, threshold: float = DEFAULT_THRESHOLD, seed: int = 0
) -> Dependence:
    """``dependence`` of the columns of ``data``, its coded columns as categories."""
    return dependence(
        data.X, data.feature_names, categorical=data.coded, threshold=threshold, seed=seed
    )


def dependence(
    X: NDArray[np.float32],
    features: tuple[str, ...] | list[str],
    *,
    categorical: NDArray[np.bool_] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    seed: int = 0,
) -> Dependence:
    """Measure the dependence between the columns of ``X`` and cluster them.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features)
    features : sequence of str
    categorical : ndarray of bool, optional
        Which columns hold categories (codes); default: none.
    threshold : float in (0, 1] (``THRESHOLD_SCHEMA``)
        The least average dependence within a cluster.
    seed : int
        Seeds the row sample when there are more than ``MAX_ROWS`` rows.
    """
    X = np.asarray(X)
    n_rows, n_features = X.shape
    if n_features != len(features):
        raise InputError(f"{len(features)} feature names for {n_features} columns")
    if n_rows > MAX_ROWS:
        X = X[np.sort(np.random.default_rng(seed).choice(n_rows, MAX_ROWS, replace=False))]
    kinds = np.zeros(n_features, bool) if categorical is None else np.asarray(categorical, bool)
    matrix = np.eye(n_features)
    measures = np.full((n_features, n_features), "spearman", dtype="<U9")
    ranks = _ranks(X)
    numeric = np.flatnonzero(~kinds)
    if len(numeric) > 1:
        matrix[np.ix_(numeric, numeric)] = np.abs(_pearson(ranks[:, numeric]))
    codes = {int(j): np.unique(X[:, j], return_inverse=True)[1] for j in np.flatnonzero(kinds)}
    for i in codes:
        for j in range(n_features):
            if i == j or (j in codes and j < i):
                continue
            if j in codes:
                value, measure = _cramers_v(codes[i], codes[j]), "cramers_v"
            else:
                value, measure = _eta(codes[i], ranks[:, j]), "eta"
            matrix[i, j] = matrix[j, i] = value
            measures[i, j] = measures[j, i] = measure
    np.fill_diagonal(matrix, 1.0)
    matrix = np.clip(np.nan_to_num(matrix, nan=0.0), 0.0, 1.0)
    clusters, order = _clusters(matrix, tuple(features), threshold)
    return Dependence(tuple(features), matrix, measures, clusters, order, float(threshold))


def _ranks(X: NDArray[np.floating]) -> NDArray[np.float64]:
    from scipy.stats import rankdata

    return np.asarray(rankdata(X, axis=0), dtype=np.float64)


def _pearson(A: NDArray[np.float64]) -> NDArray[np.float64]:
    """Pearson correlation of the columns (0 for a constant column)."""
    centred = A - A.mean(axis=0)
    norms = np.sqrt((centred**2).sum(axis=0))
    safe = np.where(norms > 0, norms, 1.0)
    unit = centred / safe
    out = unit.T @ unit
    constant = norms == 0
    out[constant, :] = 0.0
    out[:, constant] = 0.0
    return np.asarray(out)


def _cramers_v(a: NDArray[np.intp], b: NDArray[np.intp]) -> float:
    """Cramér's V of two category columns given as codes 0..k-1 (0 when either has one
    category)."""
    na, nb = int(a.max()) + 1, int(b.max()) + 1
    table = np.bincount(a * nb + b, minlength=na * nb).reshape(na, nb).astype(np.float64)
    k = min(table.shape) - 1
    if k == 0:
        return 0.0
    n = table.sum()
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return float(np.sqrt(chi2 / (n * k)))


def _eta(codes: NDArray[np.intp], values: NDArray[np.float64]) -> float:
    """The correlation ratio: the share of ``values``' spread explained by the categories
    (given as codes 0..k-1), as a correlation (its square root)."""
    total = float(((values - values.mean()) ** 2).sum())
    if total == 0:
        return 0.0
    counts = np.bincount(codes).astype(np.float64)
    means = np.bincount(codes, weights=values) / np.where(counts > 0, counts, 1.0)
    between = float((counts * (means - values.mean()) ** 2).sum())
    return float(np.sqrt(between / total))


def _clusters(
    matrix: NDArray[np.float64], features: tuple[str, ...], threshold: float
) -> tuple[tuple[tuple[str, ...], ...], tuple[int, ...]]:
    from scipy.cluster.hierarchy import fcluster, leaves_list, linkage
    from scipy.spatial.distance import squareform

    n = len(features)
    if n < 2:
        return (), tuple(range(n))
    distance = squareform(1.0 - matrix, checks=False)
    tree = linkage(distance, method="average")
    labels = fcluster(tree, t=1.0 - threshold + 1e-12, criterion="distance")
    groups: dict[int, list[str]] = {}
    for name, label in zip(features, labels, strict=True):
        groups.setdefault(int(label), []).append(name)
    clusters = tuple(tuple(g) for g in groups.values() if len(g) > 1)
    position = {name: i for i, name in enumerate(features)}
    clusters = tuple(sorted(clusters, key=lambda c: position[c[0]]))
    return clusters, tuple(int(i) for i in leaves_list(tree))
