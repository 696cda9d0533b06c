"""Integrated gradients (Sundararajan, Taly & Yan 2017), with gradient x input and SmoothGrad."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, get_args

import numpy as np
from numpy.typing import NDArray

from importance_tasks.data import BATCH_ROWS
from importance_tasks.errors import UnsupportedModelError
from importance_tasks.keras.keras_model import KerasModel
from importance_tasks.methods._common import (
    FeatureRow,
    ProgressFn,
    attribution_result,
    draw_sample,
    output_selection,
    sample_size,
    settings_of,
)
from importance_tasks.methods.base import Run, Seeded, choice, integer, option, rows_option
from importance_tasks.result import Importance

if TYPE_CHECKING:
    from importance_tasks.keras.gradient_space import GradientSpace

__all__ = ["GRADIENT_COST", "IntegratedGradients", "quadrature"]

Baseline = Literal["zeros", "mean", "sample"]
BASELINES: tuple[str, ...] = get_args(Baseline)
Rule = Literal["gauss_legendre", "riemann_middle", "riemann_trapezoid"]
RULES: tuple[str, ...] = get_args(Rule)
Kind = Literal["integrated", "gradient_x_input"]
KINDS: tuple[str, ...] = get_args(Kind)


GRADIENT_COST = 3.0  # a forward and backward pass, in forward passes (for packing)


def quadrature(rule: str, n_steps: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Points in [0, 1] and weights summing to 1 for the path integral."""
    if rule == "gauss_legendre":
        nodes, weights = np.polynomial.legendre.leggauss(n_steps)
        return (nodes + 1) / 2, weights / 2
    if rule == "riemann_middle":
        return (np.arange(n_steps) + 0.5) / n_steps, np.full(n_steps, 1.0 / n_steps)
    alphas = np.linspace(0.0, 1.0, n_steps + 1)
    weights = np.full(n_steps + 1, 1.0 / n_steps)
    weights[[0, -1]] /= 2
    return alphas, weights


class IntegratedGradients(Seeded):
    """Path-integrated gradients from a baseline, aggregated to mean |attribution|.

    For row x and baseline b, the attribution of feature j is
    ``(x_j - b_j) * integral_0^1 df(b + a (x - b))/dx_j da``, computed by quadrature over
    ``n_steps`` points in batched ``tf.GradientTape`` calls. Attributions of a row sum to
    ``f(x) - f(b)`` (completeness); the mean absolute gap, relative to the mean |f(x) - f(b)|,
    is reported in the diagnostics as ``completeness_gap``.

    The output explained: a regression model's output (summed if several); for a classifier,
    the probability of each row's true class. Global importance is the mean over rows of
    |attribution|; ``std`` is its spread over rows and the interval is that of the mean.
    A group's attribution is the sum of its columns' attributions (completeness keeps holding).

    Parameters
    ----------
    kind : {"integrated", "gradient_x_input"}, default="integrated"
        ``gradient_x_input`` is ``(x - b) * df/dx(x)``: one gradient, no path integral.
    baseline : {"zeros", "mean", "sample"}, default="mean"
        ``sample`` draws each row's baseline from the data (expected gradients).
    n_steps : int, default=32
    rule : {"gauss_legendre", "riemann_middle", "riemann_trapezoid"}, default="gauss_legendre"
    smoothgrad_samples : int, default=0
        Noisy copies averaged per gradient (SmoothGrad, Smilkov et al. 2017); 0 = off.
    smoothgrad_sigma : float, default=0.1
        Noise scale relative to each feature's standard deviation.
    max_samples : float or int, default=1000
        Rows explained.
    random_state, groups
    """

    name: ClassVar[str] = "integrated_gradients"
    label: ClassVar[str] = "IG"
    per_step: ClassVar[bool] = True

    kind: Kind = choice(
        "integrated",
        KINDS,
        help="integrated, or gradient_x_input (one gradient, no path integral)",
    )
    baseline: Baseline = choice(
        "mean",
        BASELINES,
        help="the path's start: zeros, the data's mean, or a row drawn from the data (sample)",
    )
    n_steps: int = option(32, help="quadrature points of the path", schema=integer(2))
    rule: Rule = choice(
        "gauss_legendre",
        RULES,
        help="the quadrature rule",
    )
    smoothgrad_samples: int = option(
        0, help="noisy copies averaged per gradient (SmoothGrad; 0: off)", schema=integer(0)
    )
    smoothgrad_sigma: float = option(
        0.1,
        help="SmoothGrad's noise, relative to each feature's standard deviation",
        schema={"type": "number", "exclusiveMinimum": 0},
    )
    max_samples: float | int = rows_option(1000, help="rows explained")

    def for_step_profile(self, n_rows: int) -> IntegratedGradients:
        """``n_rows`` windows, each cell a feature."""
        return dataclasses.replace(self, groups={}, max_samples=n_rows)

    def seconds(self, n_rows: int, n_features: int, rows_per_s: float) -> float:
        """Rough seconds of its work at ``rows_per_s`` model rows per second (for packing): a
        forward and backward pass (about three forward passes) per step of each row."""
        rows = sample_size(n_rows, self.max_samples)
        return rows * self.n_steps * GRADIENT_COST / rows_per_s

    def measure(self, run: Run) -> Importance:
        model, data, progress = run.model, run.data, run.progress
        gradient = getattr(model, "gradient", None)
        if gradient is None:
            raise UnsupportedModelError(
                "integrated_gradients needs a Keras model (it differentiates the network); "
                "use permutation, probe, shap, lime or sage for this model"
            )
        sample = draw_sample(data, groups=self.groups, seed=self.seed, max_samples=self.max_samples)
        space = model.gradient_space() if isinstance(model, KerasModel) else None
        predict: Callable[[NDArray[np.float32]], NDArray[np.float64]] = model.predict
        owners: tuple[tuple[int, ...], ...] = tuple((j,) for j in range(sample.X.shape[1]))
        encode: Callable[[NDArray[np.float32]], NDArray[np.float64]] = _as_float64
        if space is not None:  # columns a gradient cannot reach: attributed after preprocessing
            encode, predict, gradient, owners = (
                space.encode, space.predict, space.gradient, space.owners
            )  # fmt: skip
        Z, rng = encode(sample.X), sample.rng
        base = self._baselines(Z, data.X, encode, rng)
        out_z = predict(Z.astype(np.float32))
        select = output_selection(out_z, sample.y)
        attributions = self._attributions(gradient, Z, base, select, rng, progress)
        out_b = predict(base.astype(np.float32))
        delta = ((out_z - out_b) * select).sum(axis=1)
        gap = np.abs(attributions.sum(axis=1) - delta)
        scale = float(np.mean(np.abs(delta)))
        per_row, rows, diagnostics = _to_rows(
            attributions, owners, sample.rows, space, data.feature_names
        )
        return attribution_result(
            self.name,
            rows,
            per_row,
            started=run.started,
            select=select,
            settings=settings_of(
                kind=self.kind,
                baseline=self.baseline,
                n_steps=self.n_steps,
                rule=self.rule,
                smoothgrad_samples=self.smoothgrad_samples,
                smoothgrad_sigma=self.smoothgrad_sigma,
                seed=self.seed,
                n_rows=len(Z),
                groups=self.groups,
            ),
            diagnostics={
                **diagnostics,
                "completeness_gap": float(gap.mean() / scale) if scale > 0 else float(gap.mean()),
            },
        )

    def _baselines(
        self,
        Z: NDArray[np.float64],
        pool: NDArray[np.float32],
        encode: Callable[[NDArray[np.float32]], NDArray[np.float64]],
        rng: np.random.Generator,
    ) -> NDArray[np.float64]:
        """Baselines in the space the gradients start from (the columns themselves, or their
        encodings): zeros, the mean encoding of the data, or encodings of sampled rows."""
        if self.baseline == "zeros":
            return np.zeros_like(Z)
        if self.baseline == "mean":
            total = sum(
                encode(pool[i : i + BATCH_ROWS]).sum(axis=0)
                for i in range(0, len(pool), BATCH_ROWS)
            )
            return np.broadcast_to(total / len(pool), Z.shape).copy()
        return encode(pool[rng.integers(0, len(pool), size=len(Z))])

    def _attributions(
        self,
        gradient: Any,
        X: NDArray[np.float64],
        base: NDArray[np.float64],
        select: NDArray[np.float64],
        rng: np.random.Generator,
        progress: ProgressFn | None,
    ) -> NDArray[np.float64]:
        if self.kind == "gradient_x_input":
            alphas, weights = np.array([1.0]), np.array([1.0])
        else:
            alphas, weights = quadrature(self.rule, self.n_steps)
        n, f = X.shape
        noise_scale = self.smoothgrad_sigma * X.std(axis=0)
        copies = max(1, self.smoothgrad_samples)
        # One batch per quadrature point: n rows (x copies) on the path, weighted gradients summed.
        total = np.zeros((n, f))
        for step, (alpha, weight) in enumerate(zip(alphas, weights, strict=True)):
            point = base + alpha * (X - base)
            grads = np.zeros((n, f))
            for _ in range(copies):
                noisy = point
                if self.smoothgrad_samples:
                    noisy = point + rng.normal(size=point.shape) * noise_scale
                grads += gradient(noisy.astype(np.float32), select.astype(np.float32))
            total += weight * grads / copies
            if progress is not None:
                progress(step + 1, len(alphas))
        return (X - base) * total


def _as_float64(X: NDArray[np.float32]) -> NDArray[np.float64]:
    return X.astype(np.float64)


def _to_rows(
    attributions: NDArray[np.float64],
    owners: Sequence[tuple[int, ...]],
    rows: Sequence[FeatureRow],
    space: GradientSpace | None,
    names: Sequence[str],
) -> tuple[NDArray[np.float64], list[FeatureRow], dict[str, Any]]:
    """Per result row (feature or group), the sum of the components it owns, as one column
    per row; a row that owns part of a component shared with columns outside it is NaN, with
    the reason, and where a row's columns were attributed after preprocessing is recorded."""
    per_row = np.zeros((attributions.shape[0], len(rows)))
    not_evaluable: dict[str, str] = {}
    attributed_at: dict[str, list[str]] = {}
    for i, row in enumerate(rows):
        mine = set(row.columns.tolist())
        whole = [k for k, o in enumerate(owners) if set(o) <= mine]
        shared = [k for k, o in enumerate(owners) if set(o) & mine and not set(o) <= mine]
        if shared and space is not None:
            layer = space.layers[shared[0]]
            with_ = [names[j] for j in sorted(set(owners[shared[0]]) - mine)]
            not_evaluable[row.label] = (
                f"its values reach the model only mixed with columns {with_} (in {layer}'s "
                "output); group those columns to attribute them together"
            )
            per_row[:, i] = np.nan
            continue
        per_row[:, i] = attributions[:, whole].sum(axis=1)
        if space is not None:
            layers = sorted({space.layers[k] for k in whole} - {""})
            if layers:
                attributed_at[row.label] = layers
    diagnostics: dict[str, Any] = {}
    if not_evaluable:
        diagnostics["not_evaluable"] = not_evaluable
    if attributed_at:
        diagnostics["attributed_at"] = attributed_at
    labels = [
        FeatureRow(r.label, np.array([i], dtype=np.intp), r.names) for i, r in enumerate(rows)
    ]
    return per_row, labels, diagnostics
