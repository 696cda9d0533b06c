"""How far a float32 forward pass may move the numbers that tests compare.

Everything after the model (losses, shard combination, ranks) is float64 arithmetic, exact to
about 1e-15. The model's forward pass is float32, and TensorFlow's CPU kernels choose their
blocking, hence their summation order, by instruction set and batch shape: the same row in a
batch of another size, or on another processor, may come out a few float32 ulps different.
Two computations that are equal in exact arithmetic but feed the model other batches therefore
agree only to within what those ulps do to a loss, and that is what these tolerances bound.

The premise: every output moves by at most ``OUTPUT_ULPS`` float32 ulps of its own magnitude,
and a probability ``p`` (a sigmoid or softmax output) by at most that many ulps of
``p * max(1, -ln p)``: ``p = exp(z - logsumexp(z))``, so an error of a few ulps in a logit
of magnitude ``|ln p|`` becomes a relative error of ``|ln p|`` times as many ulps in ``p``
(a class at 1e-10 moved by 32 ulps of itself on an AMD EPYC, 1.4 ulps of its logit).
``test_precision.py`` measures the premise on the machine that runs the tests (at most 8 ulps
on the processors seen so far). To first order, a relative change ``d`` of every output moves
a mean loss by at most ``d * mean(|dloss/df * f|)``:

- mse: ``2 * mean(|f - y| * |f|) <= 2 * sqrt(loss * mean(f**2))`` (Cauchy-Schwarz);
- mae: ``mean(|f|)``;
- log_loss on renormalised probabilities: the true class's share moves by at most
  ``d * max(1, -ln p_true)`` plus ``d`` for the renormalisation (``p * -ln p <= 1/e``), and
  ``mean(max(1, -ln p_true)) <= 1 + loss``: ``d * (2 + loss)``;
- r2: the mse bound over the target's variance.

Attributions that are differences of outputs (SHAP values) move by at most ``d`` times the
largest output for each output they sum (``output_atol``).

An importance is the difference of two losses (perturbed copy minus the rows themselves), so
its bound is the sum of both; the perturbed loss is ``loss + importance``, and its outputs are
taken to have the same scale as the model's outputs on the rows themselves.
"""

from __future__ import annotations

import numpy as np

from importance_tasks.methods._common import DEFAULT_MAX_BATCH_BYTES

F32_EPS = float(np.finfo(np.float32).eps)
OUTPUT_ULPS = 16
# The default batch budget and one that stacks a single copy of the rows per forward call, so
# that a comparison which depends on the batch shape fails on every machine, not only some.
BATCH_BUDGETS = (DEFAULT_MAX_BATCH_BYTES, 1)


def _loss_bound(
    scoring: str, loss: np.ndarray, outputs: np.ndarray, weight: np.ndarray | None
) -> np.ndarray:
    d = OUTPUT_ULPS * F32_EPS
    if scoring == "mse":
        square = np.average(outputs**2, axis=0, weights=weight).mean()
        return 2 * d * np.sqrt(np.maximum(loss, 0.0) * square)
    if scoring == "mae":
        size = np.average(np.abs(outputs), axis=0, weights=weight).mean()
        return d * np.broadcast_to(size, np.shape(loss))
    if scoring == "log_loss":
        return d * (2 + np.maximum(loss, 0.0))
    raise ValueError(f"no rounding bound for scoring={scoring!r}")


def importance_atol(
    model,
    X: np.ndarray,
    y: np.ndarray,
    importance: np.ndarray,
    *,
    scoring: str,
    sample_weight: np.ndarray | None = None,
) -> np.ndarray:
    """Per feature, how far a float32 forward pass may move a loss-difference importance."""
    from importance_tasks.scoring import get_scorer

    outputs = model.predict(np.asarray(X, dtype=np.float32))
    scale = 1.0
    if scoring == "r2":  # -r2 = mse / var(y) - 1: bound the mse, then scale it
        scale = float(
            np.average((y - np.average(y, weights=sample_weight)) ** 2, weights=sample_weight)
        )
        scoring = "mse"
    base = get_scorer(scoring, output=outputs, y=y).loss(y, outputs, sample_weight)
    perturbed = base + scale * np.abs(np.asarray(importance, dtype=np.float64))
    bound = _loss_bound(scoring, np.asarray(base), outputs, sample_weight) + _loss_bound(
        scoring, perturbed, outputs, sample_weight
    )
    return bound / scale


def output_ulps(moved: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """How many float32 ulps each output moved, in the premise's units (ulps of ``p * max(1,
    -ln p)`` for the outputs of a model whose outputs are all probabilities)."""
    size = np.abs(outputs) + np.finfo(np.float32).tiny
    if np.all((outputs > 0) & (outputs <= 1)):
        size = size * np.maximum(1.0, -np.log(size))
    return np.abs(moved - outputs) / (size * F32_EPS)


def output_atol(model, X: np.ndarray, *, terms: int = 2) -> float:
    """How far a float32 forward pass may move an attribution that is a signed sum of
    ``terms`` model outputs averaged over draws (a SHAP value is a difference of two)."""
    outputs = model.predict(np.asarray(X, dtype=np.float32))
    return terms * OUTPUT_ULPS * F32_EPS * float(np.max(np.abs(outputs)))


def assert_within(actual: np.ndarray, desired: np.ndarray, atol: np.ndarray | float) -> None:
    """``|actual - desired| <= atol`` elementwise (``atol`` may differ per feature)."""
    actual, desired = np.asarray(actual), np.asarray(desired)
    atol = np.asarray(atol, dtype=np.float64)
    if atol.ndim == 1 and actual.ndim == 2:  # one tolerance per feature (row)
        atol = atol[:, None]
    atol = np.broadcast_to(atol, actual.shape)
    gap = np.abs(actual - desired)
    bad = np.argwhere(~(gap <= atol))
    assert bad.size == 0, "outside the float32 forward tolerance at " + ", ".join(
        f"{tuple(i)}: {actual[tuple(i)]!r} vs {desired[tuple(i)]!r} (gap {gap[tuple(i)]:.3g} > "
        f"{atol[tuple(i)]:.3g})"
        for i in bad[:5]
    )
