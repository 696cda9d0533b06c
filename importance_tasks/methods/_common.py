"""Helpers the methods share: feature groups, seeds, batched perturbation, intervals."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from importance_tasks.contract import MethodStatus
from importance_tasks.errors import InputError
from importance_tasks.keras.first_layer import RowsAtFirstDense
from importance_tasks.keras.keras_model import first_dense_of
from importance_tasks.model import Model, aligned_empty
from importance_tasks.result import Importance

ProgressFn = Callable[[int, int], None]
RandomState = int | np.random.Generator | None
# A few model batches of stacked copies, small enough to stay in cache (measured on the
# benchmark's 100-feature model, 10,000 rows: 16 MiB 1.16x the forward floor, 256 MiB 1.3-1.5x).
DEFAULT_MAX_BATCH_BYTES = 16 * 2**20
Z_95 = 1.959963984540054


@dataclass(frozen=True)
class FeatureRow:
    """One row of a result: a feature or a group of columns reported together."""

    label: str
    columns: NDArray[np.intp]
    names: tuple[str, ...]


def resolve_groups(
    feature_names: Sequence[str], groups: Mapping[str, Sequence[str]] | None
) -> list[FeatureRow]:
    """Rows for a result: each group as one row at its first column, other columns alone.

    Raises
    ------
    ValueError
        When a group names an unknown column, a column is in two groups, a group is empty,
        or a group's name is also the name of a column outside it.
    """
    groups = dict(groups or {})
    index = {name: i for i, name in enumerate(feature_names)}
    owner: dict[str, str] = {}
    for label, members in groups.items():
        if not members:
            raise InputError(f"group {label!r} has no columns")
        unknown = [m for m in members if m not in index]
        if unknown:
            raise InputError(f"group {label!r} names unknown columns {unknown}")
        for member in members:
            if member in owner:
                raise InputError(f"column {member!r} is in groups {owner[member]!r} and {label!r}")
            owner[member] = label
        if label in index and label not in members:
            raise InputError(f"group name {label!r} is also a column outside the group")
    rows: list[FeatureRow] = []
    seen: set[str] = set()
    for name in feature_names:
        label = owner.get(name, name)
        if label in seen:
            continue
        seen.add(label)
        names = tuple(groups[label]) if label in groups else (name,)
        columns = np.array([index[n] for n in names], dtype=np.intp)
        rows.append(FeatureRow(label, columns, names))
    return rows


def cluster_rows(
    feature_names: Sequence[str], clusters: Mapping[str, Sequence[str]]
) -> list[FeatureRow]:
    """One extra row per cluster of dependent columns, all its columns together (computed
    beside a method's own rows, reported apart by ``cluster_importance``)."""
    index = {name: i for i, name in enumerate(feature_names)}
    rows = []
    for label, members in clusters.items():
        unknown = [m for m in members if m not in index]
        if unknown:
            raise InputError(f"cluster {label!r} names unknown columns {unknown}")
        columns = np.array([index[m] for m in members], dtype=np.intp)
        rows.append(FeatureRow(label, columns, tuple(members)))
    return rows


def cluster_importance(
    meta: Mapping[str, Any],
    n_rows: int,
    *,
    mean: NDArray[np.float64],
    std: NDArray[np.float64],
    low: NDArray[np.float64],
    high: NDArray[np.float64],
) -> dict[str, dict[str, Any]]:
    """The cluster rows (those after the first ``n_rows`` of ``meta["features"]``) as
    ``diagnostics["cluster_importance"]``: each cluster's columns, mean, std and 95% interval."""
    return {
        label: {
            "columns": list(meta["groups"][label]),
            "mean": float(mean[i]),
            "std": float(std[i]),
            "ci_low": float(low[i]),
            "ci_high": float(high[i]),
        }
        for i, label in enumerate(meta["features"]) if i >= n_rows
    }  # fmt: skip


def draw_seed(random_state: RandomState) -> int:
    """One integer seed from ``random_state``, recorded in the settings so a run can be repeated."""
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**31))
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0] % 2**31)
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)):
        raise InputError(
            f"random_state must be an int, a numpy Generator or None, got {random_state!r}"
        )
    if random_state < 0:
        raise InputError(f"random_state must be >= 0, got {random_state}")
    return int(random_state)


def sample_size(n_rows: int, max_samples: float | int) -> int:
    """How many of ``n_rows`` rows ``max_samples`` selects."""
    count = max_samples if isinstance(max_samples, int) else int(max_samples * n_rows)
    return n_rows if count >= n_rows else max(count, 2)


def sample_rows(
    n_rows: int, max_samples: float | int, rng: np.random.Generator
) -> NDArray[np.intp] | None:
    """Sorted row indices to use, or None for all rows."""
    count = sample_size(n_rows, max_samples)
    if count == n_rows:
        return None
    return np.sort(rng.choice(n_rows, size=count, replace=False))


Replacement = NDArray[np.float32]
"""Values for a perturbed row's columns: shape (n_rows, n_columns) or (n_columns,)."""


def perturbed_outputs(
    model: Model,
    X: NDArray[np.float32],
    jobs: Sequence[tuple[NDArray[np.intp], Callable[[], Replacement]]],
    *,
    max_batch_bytes: int,
    progress: ProgressFn | None = None,
) -> Iterator[tuple[int, NDArray[np.float64]]]:
    """Model outputs for copies of ``X`` with some columns replaced, many copies per forward call.

    Each job is ``(columns, replacement)``; ``replacement()`` gives the values for those
    columns. Copies are stacked into batches of at most ``max_batch_bytes`` (at least one
    copy), so the model sees few large batches instead of one call per job. Where the model
    starts with a Dense layer, a copy is the cached pre-activations plus a low-rank update, run
    through the rest of the network only (``importance_tasks.keras.first_layer``). Yields
    ``(job_index, outputs)`` with outputs of shape (n_rows, n_outputs), in job order.
    """
    first = first_dense_of(model)
    if first is None:
        batches = _input_batches(model, X, jobs, max_batch_bytes)
    else:
        batches = _first_dense_batches(first.at(X), jobs, max_batch_bytes)
    n_rows = X.shape[0]
    for start, count, outputs in batches:
        for slot in range(count):
            yield start + slot, outputs[slot * n_rows : (slot + 1) * n_rows]
        if progress is not None:
            progress(start + count, len(jobs))


_Batch = tuple[int, int, NDArray[np.float64]]
"""The first job of a batch, its number of jobs, and their outputs stacked in job order."""


def _input_batches(
    model: Model,
    X: NDArray[np.float32],
    jobs: Sequence[tuple[NDArray[np.intp], Callable[[], Replacement]]],
    max_batch_bytes: int,
) -> Iterator[_Batch]:
    n_rows, n_features = X.shape
    per_batch = max(1, min(len(jobs), max_batch_bytes // max(X.nbytes, 1)))
    buffer = aligned_empty((per_batch, n_rows, n_features))
    buffer[:] = X
    # Each copy differs from X only in its job's columns: the next job in the same slot
    # restores those columns instead of copying all of X again.
    changed: list[NDArray[np.intp] | None] = [None] * per_batch
    for start in range(0, len(jobs), per_batch):
        chunk = jobs[start : start + per_batch]
        for slot, (columns, replacement) in enumerate(chunk):
            copy, previous = buffer[slot], changed[slot]
            if previous is not None:
                copy[:, previous] = X[:, previous]
            copy[:, columns] = replacement()
            changed[slot] = columns
        flat = buffer[: len(chunk)].reshape(len(chunk) * n_rows, n_features)
        yield start, len(chunk), model.predict(flat)


def _first_dense_batches(
    rows: RowsAtFirstDense,
    jobs: Sequence[tuple[NDArray[np.intp], Callable[[], Replacement]]],
    max_batch_bytes: int,
) -> Iterator[_Batch]:
    per_batch = max(1, min(len(jobs), max_batch_bytes // max(rows.copy_bytes, 1)))
    for start in range(0, len(jobs), per_batch):
        chunk = jobs[start : start + per_batch]
        copies = [(columns, replacement()) for columns, replacement in chunk]
        yield start, len(chunk), rows.predict_copies(copies)


def t_interval(
    mean: NDArray[np.float64], repeats: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """95% Student-t interval of the mean of each row's repeats (the mean itself for one repeat)."""
    n = repeats.shape[1]
    if n < 2:
        return mean.copy(), mean.copy()
    from scipy.stats import t

    half = float(t.ppf(0.975, df=n - 1)) * repeats.std(axis=1, ddof=1) / np.sqrt(n)
    return mean - half, mean + half


def settings_of(**settings: Any) -> dict[str, Any]:
    """Settings as JSON-friendly values (groups as lists)."""
    return {
        key: ({k: list(v) for k, v in value.items()} if isinstance(value, Mapping) else value)
        for key, value in settings.items()
    }


def output_selection(output: NDArray[np.float64], y: NDArray[Any]) -> NDArray[np.float64]:
    """Per row, which outputs to attribute: the true class of a classifier, else all outputs."""
    n, k = output.shape
    is_probability = bool(np.all((output >= -1e-6) & (output <= 1 + 1e-6)))
    labels_fit = (
        y.ndim == 1 and np.issubdtype(y.dtype, np.number) and np.all(np.isin(y, np.arange(k)))
    )
    if k > 1 and is_probability and labels_fit:
        select = np.zeros((n, k))
        select[np.arange(n), y.astype(np.intp)] = 1.0
        return select
    return np.ones((n, k))


@dataclass(frozen=True)
class Sample:
    """The rows a method works on: a seeded sample of the data, and the result's feature rows."""

    rows: list[FeatureRow]
    rng: np.random.Generator
    X: NDArray[np.float32]
    y: NDArray[Any]
    weight: NDArray[np.float64] | None


def draw_sample(
    data: Any,
    *,
    groups: Mapping[str, Sequence[str]],
    seed: int,
    max_samples: float | int,
) -> Sample:
    """Resolve the groups and draw the rows (all, or ``max_samples`` of them) with ``seed``."""
    rows = resolve_groups(data.feature_names, groups)
    rng = np.random.default_rng(seed)
    picked = sample_rows(data.n_rows, max_samples, rng)
    if picked is None:
        return Sample(rows, rng, data.X, data.y, data.sample_weight)
    weight = None if data.sample_weight is None else data.sample_weight[picked]
    return Sample(rows, rng, data.X[picked], data.y[picked], weight)


def make_result(
    method: str,
    rows: Sequence[FeatureRow],
    *,
    mean: NDArray[np.float64],
    std: NDArray[np.float64],
    ci_low: NDArray[np.float64] | None = None,
    ci_high: NDArray[np.float64] | None = None,
    repeats: NDArray[np.float64] | None = None,
    settings: Mapping[str, Any],
    started: float,
    diagnostics: Mapping[str, Any] | None = None,
    status: tuple[str, str] = (MethodStatus.COMPLETE, ""),
) -> Importance:
    """The one result type, with the interval defaulting to the mean (no randomness);
    ``status`` is its status (``contract.MethodStatus``) and the reason."""
    import time

    return Importance(
        method=method,
        features=tuple(r.label for r in rows),
        mean=mean,
        std=std,
        ci_low=mean.copy() if ci_low is None else ci_low,
        ci_high=mean.copy() if ci_high is None else ci_high,
        repeats=repeats,
        groups={r.label: r.names for r in rows},
        settings=settings,
        seconds=time.perf_counter() - started,
        diagnostics=dict(diagnostics or {}),
        status=status[0],
        status_reason=status[1],
    )


def attribution_result(
    method: str,
    rows: Sequence[FeatureRow],
    per_row: NDArray[np.float64],
    *,
    settings: Mapping[str, Any],
    started: float,
    select: NDArray[np.float64] | None = None,
    diagnostics: Mapping[str, Any] | None = None,
    status: tuple[str, str] = (MethodStatus.COMPLETE, ""),
) -> Importance:
    """Global importance from local attributions of shape (n_rows, n_columns).

    A group's attribution is the sum of its columns'; importance is the mean over rows of its
    absolute value, ``std`` its spread over rows, the interval a normal 95% interval of the mean.
    When ``select`` marks each row's class (a classifier), ``diagnostics["per_class"]`` holds
    the mean |attribution| over the rows of each class, in feature order.
    """
    grouped = np.column_stack([per_row[:, r.columns].sum(axis=1) for r in rows])
    magnitude = np.abs(grouped)
    diagnostics = dict(diagnostics or {})
    if select is not None and select.shape[1] > 1 and np.all(select.sum(axis=1) == 1):
        labels = select.argmax(axis=1)
        diagnostics = {
            **diagnostics,
            "per_class": {
                str(c): magnitude[labels == c].mean(axis=0).tolist() for c in np.unique(labels)
            },
        }
    n = magnitude.shape[0]
    mean = magnitude.mean(axis=0)
    spread = magnitude.std(axis=0, ddof=1) if n > 1 else np.zeros_like(mean)
    half = Z_95 * spread / np.sqrt(n)
    return make_result(
        method, rows, mean=mean, std=spread, ci_low=mean - half, ci_high=mean + half,
        settings=settings, started=started, diagnostics=diagnostics, status=status,
    )  # fmt: skip
