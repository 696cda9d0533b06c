"""One output's window compared with its baseline: the label-free estimates of each method,
the loss-based ones beside them when the window has labels, the flagged features, the columns
whose distribution moved, and nDCG@k of the two rankings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from importance_tasks.config import AnalysisConfig
from importance_tasks.data import EvalData
from importance_tasks.errors import UnsupportedModelError
from importance_tasks.methods import make_method
from importance_tasks.model import Model, input_groups
from importance_tasks.monitor import ALPHA, MATERIALITY
from importance_tasks.monitor.drift import Flag, flagged, moved_columns
from importance_tasks.monitor.estimates import Estimate, estimate, shuffled_rows
from importance_tasks.monitor.labels import Mode, labelled_by_model
from importance_tasks.ranking.top_weighted import ndcg_at_k
from importance_tasks.result import rank_descending

__all__ = ["Estimates", "Watched", "estimates", "watch"]


@dataclass(frozen=True)
class Estimates:
    """Each method's estimate on one table (by the method's name), and why any other of the
    configured methods has none."""

    by_method: Mapping[str, Estimate]
    skipped: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "methods": {m: e.to_dict() for m, e in self.by_method.items()},
            "skipped": dict(self.skipped),
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Estimates:
        methods = {m: Estimate.from_dict(e) for m, e in record["methods"].items()}
        return cls(methods, dict(record.get("skipped") or {}))

    @property
    def first(self) -> Estimate:
        """The first method's estimate: the one the metrics and the report chart."""
        return next(iter(self.by_method.values()))


def estimates(
    model: Model, data: EvalData, config: AnalysisConfig, *, mode: Mode, scoring: str = "auto"
) -> Estimates:
    """Each of ``config``'s methods on ``data``: of the model's own output (``Mode.OUTPUT``,
    ``monitor.labels``) or of its loss against the data's labels (``Mode.LOSS``)."""
    config = config.with_input_groups(input_groups(model))
    if mode == Mode.OUTPUT:
        data, scoring = labelled_by_model(model, data)
    data = shuffled_rows(data, seed=config.seed)
    found: dict[str, Estimate] = {}
    skipped: dict[str, str] = {}
    for name in config.methods:
        method = make_method(name, **config.options_for(name))
        try:
            found[name] = estimate(method, model, data, scoring=scoring)
        except UnsupportedModelError as exc:
            skipped[name] = str(exc)
    if not found:
        raise UnsupportedModelError(f"no method could run on this model: {skipped}")
    return Estimates(found, skipped)


@dataclass(frozen=True)
class Watched:
    """One output's window against its baseline."""

    baseline: Estimates
    window: Estimates
    flags: tuple[Flag, ...]
    moved: Mapping[str, float]  # column -> Holm-adjusted p of its two-sample test
    ndcg: float
    k: int
    loss: Estimates | None = None

    @property
    def data_drift(self) -> tuple[str, ...]:
        """The columns whose distribution moved, most certain first."""
        return tuple(sorted(self.moved, key=self.moved.__getitem__))

    def record(self) -> dict[str, Any]:
        """The window's part of ``monitor/<ds>.json`` for this output."""
        first = self.window.first
        base = self.baseline.first
        groups = self.window.first.groups
        moved = {f for f in first.features if set(groups.get(f, (f,))) & set(self.moved)}
        return {
            "method": first.method,
            "importance": dict(zip(first.features, first.mean.tolist(), strict=True)),
            "interval": {
                f: [lo, hi]
                for f, lo, hi in zip(
                    first.features, first.low.tolist(), first.high.tolist(), strict=True
                )
            },
            "baseline": dict(zip(base.features, base.mean.tolist(), strict=True)),
            "baseline_interval": {
                f: [lo, hi]
                for f, lo, hi in zip(
                    base.features, base.low.tolist(), base.high.tolist(), strict=True
                )
            },
            "drifted": [
                {
                    "feature": f.feature,
                    "reason": f.reason(moved=f.feature in moved),
                    "method": f.method,
                    "baseline": f.baseline,
                    "window": f.window,
                    "share": f.share,
                    "p_value": f.p_value,
                    "input_moved": f.feature in moved,
                }
                for f in self.flags
            ],
            "data_drift": list(self.data_drift),  # columns
            "data_drift_p": dict(self.moved),
            "ndcg": self.ndcg,
            "k": self.k,
            "estimates": self.window.to_dict(),
            **({"loss": self.loss.to_dict()} if self.loss is not None else {}),
        }


def watch(
    baseline: Estimates,
    baseline_data: EvalData,
    window: Estimates,
    window_data: EvalData,
    *,
    k: int,
    alpha: float = ALPHA,
    materiality: float = MATERIALITY,
    loss: Estimates | None = None,
) -> Watched:
    """Compare ``window`` (its estimates and rows) with ``baseline`` (``monitor.drift``)."""
    flags = flagged(baseline.by_method, window.by_method, alpha=alpha, materiality=materiality)
    moved = moved_columns(baseline_data, window_data, alpha=alpha)
    before, after = baseline.first, window.first
    ndcg = ndcg_at_k(
        dict(zip(before.features, rank_descending(before.mean).tolist(), strict=True)),
        dict(zip(after.features, rank_descending(after.mean).tolist(), strict=True)),
        k=k,
    )
    return Watched(baseline, window, tuple(flags), moved, ndcg, k, loss)
