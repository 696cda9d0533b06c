"""Which way each feature pushes: accumulated local effects, partial dependence beside them.

Accumulated local effects (Apley & Zhu 2020, eq. 15-16) for a numeric column j: the sample's
values are cut into bins at their quantiles z_0 < ... < z_K; each row in bin k moves from z_{k-1}
to z_k with everything else kept, and the bin's effect is the mean change of the output over its
rows. The effects are summed up to each edge and centred on the rows (the mean of the sum over
the rows' bins is subtracted). Only rows that really hold values near z_k are moved there, so
under correlated features ALE stays on the data, where partial dependence averages over
combinations that never occur. The band is the bootstrap 95% interval over rows (the same
outputs, no more model evaluations).

Partial dependence and a few individual curves (ICE) are given beside it on the same grid for
numeric columns; a coded column (strings, categories) gets its partial dependence per category,
centred. The direction of a curve (rises, falls, U-shaped, inverted U, mixed) is read from its
steps larger than 2% of its range; it is flat where its band holds 0 at every point of the
grid, or its range is below 5% of the output's spread.

References
----------
D. W. Apley and J. Zhu, "Visualizing the effects of predictor variables in black box supervised
learning models", JRSS B 82(4), 2020. doi:10.1111/rssb.12377
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from importance_tasks.model import Model

__all__ = ["Effect", "accumulated_effect", "category_effect", "direction"]

BOOTSTRAP = 200
ICE_LINES = 5
# A step of a curve counts towards its direction when it is above this share of its range.
STEP_SHARE = 0.02
# A curve whose range is below this share of the output's spread over the rows is flat.
FLAT_SHARE = 0.05


@dataclass(frozen=True)
class Effect:
    """One feature's effect on the output: ``kind`` "ale" (grid: bin edges) or "categories"
    (grid: the categories), centred ``values``, the bootstrap ``band`` and, for "ale", partial
    dependence and ICE lines on the same grid; its ``direction``; model evaluations spent."""

    kind: str
    grid: list[Any]
    values: list[float]
    band: list[list[float]]
    direction: str
    evaluations: int
    pd: list[float] | None = None
    ice: list[list[float]] | None = None

    def to_dict(self) -> dict[str, Any]:
        found = {
            "kind": self.kind,
            "grid": self.grid,
            "values": self.values,
            "band": self.band,
            "direction": self.direction,
            "evaluations": self.evaluations,
        }
        if self.pd is not None:
            found["pd"], found["ice"] = self.pd, self.ice
        return found

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Effect:
        return cls(**record)


def accumulated_effect(
    model: Model,
    X: NDArray[np.float32],
    column: int,
    *,
    n_bins: int = 10,
    output: int = 0,
    seed: int = 0,
    n_bootstrap: int = BOOTSTRAP,
) -> Effect:
    """ALE of ``column`` on output ``output`` over the rows of ``X`` (a sample), with partial
    dependence and ICE lines on the same grid."""
    x = X[:, column].astype(np.float64)
    edges = np.unique(np.quantile(x, np.linspace(0, 1, n_bins + 1)))
    if len(edges) < 2:  # one value: no effect to see
        return Effect("ale", edges.tolist(), [0.0], [[0.0, 0.0]], "flat", 0)
    k = np.clip(np.searchsorted(edges, x, side="left"), 1, len(edges) - 1)  # bin of each row
    low, high = X.copy(), X.copy()
    low[:, column], high[:, column] = edges[k - 1], edges[k]
    on_grid = np.repeat(X[None], len(edges), axis=0)
    on_grid[:, :, column] = edges[:, None]
    out = model.predict(np.concatenate([low, high, on_grid.reshape(-1, X.shape[1])]))[:, output]
    n = len(X)
    change = out[n : 2 * n] - out[:n]
    values = _ale(change, k, len(edges), np.ones(n))
    rng = np.random.default_rng(seed)
    draws = np.array(
        [
            _ale(change, k, len(edges), np.bincount(rng.integers(0, n, n), minlength=n))
            for _ in range(n_bootstrap)
        ]
    )
    curves = out[2 * n :].reshape(len(edges), n)  # curves[g, i]: row i with the column at edge g
    band = np.percentile(draws, [2.5, 97.5], axis=0).T
    within = bool(np.all((band[:, 0] <= 0) & (band[:, 1] >= 0)))  # no effect it can tell
    return Effect(
        kind="ale",
        grid=edges.tolist(),
        values=values.tolist(),
        band=band.tolist(),
        direction="flat" if within else direction(values, scale=float(out[:n].std())),
        evaluations=len(out),
        pd=(curves.mean(axis=1) - curves.mean()).tolist(),
        ice=[(curves[:, i] - curves[:, i].mean()).tolist() for i in range(min(ICE_LINES, n))],
    )


def _ale(change: NDArray[np.float64], k: NDArray[np.intp], n_edges: int, counts: Any) -> Any:
    """Centred ALE at each edge from each row's change across its bin, rows weighted by
    ``counts`` (a bootstrap draw); a bin without rows adds nothing."""
    weight = np.bincount(k, weights=counts, minlength=n_edges)
    total = np.bincount(k, weights=counts * change, minlength=n_edges)
    steps = np.divide(total, weight, out=np.zeros(n_edges), where=weight > 0)
    steps[0] = 0.0
    accumulated = np.cumsum(steps)
    centre = np.sum(counts * accumulated[k]) / np.sum(counts)
    return accumulated - centre


def category_effect(
    model: Model,
    X: NDArray[np.float32],
    column: int,
    labels: Sequence[Any],
    *,
    output: int = 0,
    seed: int = 0,
    n_bootstrap: int = BOOTSTRAP,
) -> Effect:
    """Partial dependence of a coded ``column`` per category (its code c is ``labels[c]``),
    centred over the rows' own categories."""
    codes = np.arange(len(labels))
    batch = np.repeat(X[None], len(codes), axis=0)
    batch[:, :, column] = codes[:, None]
    out = model.predict(batch.reshape(-1, X.shape[1]))[:, output].reshape(len(codes), len(X))
    own = X[:, column].astype(np.intp)
    n = len(X)

    def centred(counts: Any) -> Any:
        means = out @ counts / np.sum(counts)
        return means - np.sum(counts * means[own]) / np.sum(counts)

    values = centred(np.ones(n))
    rng = np.random.default_rng(seed)
    draws = np.array(
        [centred(np.bincount(rng.integers(0, n, n), minlength=n)) for _ in range(n_bootstrap)]
    )
    return Effect(
        kind="categories",
        grid=[str(label) for label in labels],
        values=values.tolist(),
        band=np.percentile(draws, [2.5, 97.5], axis=0).T.tolist(),
        direction="by category",
        evaluations=int(out.size),
    )


def direction(values: Sequence[float] | NDArray[np.float64], *, scale: float = 0.0) -> str:
    """rises, falls, U-shaped, inverted U, mixed or flat, from the curve's steps larger than
    ``STEP_SHARE`` of its range; flat where the range is below ``FLAT_SHARE`` of ``scale``
    (the output's spread over the rows)."""
    curve = np.asarray(values, dtype=np.float64)
    span = float(curve.max() - curve.min()) if len(curve) else 0.0
    if span <= max(1e-12, FLAT_SHARE * scale):
        return "flat"
    steps = np.diff(curve)
    signs = np.sign(steps[np.abs(steps) > STEP_SHARE * span])
    changes = signs[np.flatnonzero(np.diff(signs)) + 1] if len(signs) else signs
    if not len(signs) or not len(changes):
        return "rises" if (signs > 0).all() else "falls"
    if len(changes) == 1:
        return "U-shaped" if changes[0] > 0 else "inverted U"
    return "mixed"
