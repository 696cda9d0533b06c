"""Watch the deployed version on one window of new data (the ``importance_monitor`` DAG).

Pin the version (an alias is resolved once), load its evaluation data and the window (which
needs no target), compute or read the baseline (the label-free analysis of the evaluation
data, logged once in the monitoring run), compare the window with it per output
(``monitor.watch``), and record the window: its JSON, its metrics at the window's day, the
report, the version's ``importance.monitor.*`` tags.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from importance_tasks.config import AnalysisConfig
from importance_tasks.contract import Monitor, MonitorStatus, metric_key
from importance_tasks.errors import DataNotReadyError, InputError
from importance_tasks.mlflow_io import monitor_run as runs
from importance_tasks.mlflow_io.evaluation_data import data_exists, fetch_window
from importance_tasks.mlflow_io.model_ref import ModelRef, ModelSpec
from importance_tasks.model import Model
from importance_tasks.monitor import ALPHA, DEFAULT_METHODS, MATERIALITY
from importance_tasks.monitor.labels import Mode
from importance_tasks.monitor.watch import Estimates, Watched, estimates, watch
from importance_tasks.report.monitor_page import monitor_report_html
from importance_tasks.stage.inputs import Inputs, data_digest, load_inputs

__all__ = ["MonitorSettings", "MonitorSummary", "watch_window"]

CHARTED = 6  # top features of the baseline charted in the report


@dataclass(frozen=True, kw_only=True)
class MonitorSettings:
    """How a version is watched: the analysis settings (``AnalysisConfig``'s, by name; methods
    default to permutation alone), the false-alarm rate and materiality of a flag
    (``monitor.drift``), the evaluation data and target of the baseline (empty: the version's
    own, as the analysis finds them) and the MLflow experiment."""

    analysis: Mapping[str, Any] = field(default_factory=dict)
    alpha: float = ALPHA
    materiality: float = MATERIALITY
    baseline_uri: str | None = None
    target: str | Sequence[str] | None = None
    experiment: str = Monitor.EXPERIMENT

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise InputError(f"alpha={self.alpha!r}: the false-alarm rate must be in (0, 1)")
        if not 0 <= self.materiality < 1:
            raise InputError(
                f"materiality={self.materiality!r}: a share of the baseline's total in [0, 1)"
            )
        object.__setattr__(self, "analysis", {"methods": DEFAULT_METHODS, **self.analysis})
        self.config  # noqa: B018 - the analysis settings are checked now

    @functools.cached_property
    def config(self) -> AnalysisConfig:
        return AnalysisConfig.from_settings(self.analysis)

    def identity(self) -> dict[str, Any]:
        """What the baseline depends on (the monitoring run's key)."""
        return {
            "analysis": self.config.identity(),
            "alpha": self.alpha,
            "materiality": self.materiality,
            "baseline_uri": self.baseline_uri,
            "target": self.target,
        }


@dataclass(frozen=True)
class MonitorSummary:
    """What a window found (the monitor DAG's XCom, the drift event's ``extra``)."""

    model_name: str
    model_version: str
    window: str
    status: MonitorStatus
    drifted: tuple[str, ...]
    data_drift: tuple[str, ...]
    ndcg: float
    run_id: str
    modes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "model_version": self.model_version,
            "window": self.window,
            "status": str(self.status),
            "drifted": list(self.drifted),
            "data_drift": list(self.data_drift),
            "ndcg": None if math.isnan(self.ndcg) else self.ndcg,
            "run_id": self.run_id,
            "modes": list(self.modes),
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> MonitorSummary:
        ndcg = record.get("ndcg")
        return cls(
            str(record["model_name"]),
            str(record["model_version"]),
            str(record["window"]),
            MonitorStatus(record["status"]),
            tuple(record["drifted"]),
            tuple(record["data_drift"]),
            float("nan") if ndcg is None else float(ndcg),
            str(record["run_id"]),
            tuple(record["modes"]),
        )


def _heads(inputs: Inputs) -> dict[str, tuple[Model, Any]]:
    """Each output's model and data; one output under ``""``."""
    if not inputs.heads:
        return {"": (inputs.model, inputs.data)}
    return dict(inputs.heads)


def watch_window(
    client: Any,
    model: ModelSpec | ModelRef,
    *,
    ds: str,
    data_uri: str,
    settings: MonitorSettings,
) -> MonitorSummary:
    """Watch ``model`` on the window of ``ds`` at ``data_uri`` (see the module).

    Raises
    ------
    DataNotReadyError
        No table at ``data_uri`` yet (worth waiting for).
    InputError
        Anything a retry cannot fix: a bad date, no such model, data that does not fit it.
    """
    try:
        dt.date.fromisoformat(ds)
    except ValueError:
        raise InputError(f"window {ds!r} is not a date YYYY-MM-DD") from None
    if not data_exists(client, data_uri):
        raise DataNotReadyError(f"no data for window {ds} at {data_uri} yet")
    config = settings.config
    inputs = load_inputs(
        client, model, data_uri=settings.baseline_uri, target=settings.target,
        feature_names=config.feature_names, columns_in_model_order=config.columns_in_model_order,
        windowing=config.windowing,
    )  # fmt: skip
    ref, identity = inputs.ref, settings.identity()
    key = runs.monitor_key(ref, identity)
    run_id = runs.monitor_run(
        client, ref, key=key, experiment=settings.experiment, settings=identity
    )
    heads = _heads(inputs)
    baselines = _baselines(client, run_id, inputs, heads, config, key)
    assert inputs.columns is not None  # load_inputs always records how it read the columns
    source, labelled = fetch_window(
        client, ref, data_uri=data_uri, targets=inputs.source.targets, columns=inputs.columns
    )
    found: dict[str, Watched] = {}
    for output, (head_model, window_data) in _window_heads(inputs, source).items():
        scoring = config.scoring_for(output or inputs.target)
        found[output] = watch(
            baselines[output], heads[output][1],
            estimates(head_model, window_data, config, mode=Mode.OUTPUT), window_data,
            k=config.top_k, alpha=settings.alpha, materiality=settings.materiality,
            loss=estimates(head_model, window_data, config, mode=Mode.LOSS, scoring=scoring)
            if labelled else None,
        )  # fmt: skip
    modes = (Mode.OUTPUT, Mode.LOSS) if labelled else (Mode.OUTPUT,)
    record = _record(found, ds=ds, modes=modes, ref=ref, uri=data_uri, rows=source.data.n_rows)
    metrics: dict[str, float] = {}
    for output, watched in found.items():
        first = watched.window.first
        metrics.update(
            {_metric(f, output): float(v) for f, v in zip(first.features, first.mean, strict=True)}
        )
        metrics[_metric(Monitor.NDCG, output)] = watched.ndcg
    runs.log_window(
        client, run_id, ds=ds, record=record, metrics=metrics,
        report=_report(client, run_id, ref, record, found, metrics),
    )  # fmt: skip
    drifted = [_flag_name(d) for d in record["drifted"]]
    status = MonitorStatus.DRIFT if drifted else MonitorStatus.OK
    runs.tag_monitored_version(
        client, ref, status=status, drifted=drifted, window=ds, run_id=run_id
    )
    return MonitorSummary(
        ref.name, str(ref.version), ds, status, tuple(drifted), tuple(record["data_drift"]),
        float(record["ndcg"]), run_id, tuple(map(str, modes)),
    )  # fmt: skip


def _baselines(
    client: Any,
    run_id: str,
    inputs: Inputs,
    heads: Mapping[str, tuple[Model, Any]],
    config: AnalysisConfig,
    key: str,
) -> dict[str, Estimates]:
    """Each output's baseline: read from the monitoring run, else computed and logged once."""
    logged = runs.read_baseline(client, run_id)
    if logged is not None and logged.get("key") == key:
        return {k: Estimates.from_dict(v) for k, v in logged["outputs"].items()}
    found = {output: estimates(m, d, config, mode=Mode.OUTPUT) for output, (m, d) in heads.items()}
    runs.log_baseline(
        client,
        run_id,
        {
            "key": key,
            "model": {"name": inputs.ref.name, "version": str(inputs.ref.version)},
            "data": {
                "uri": inputs.data_uri,
                "digest": data_digest(inputs.data),
                "rows": inputs.data.n_rows,
                "target": inputs.target,
            },
            "modes": [str(Mode.OUTPUT)],
            "outputs": {k: v.to_dict() for k, v in found.items()},
        },
    )
    return found


def _window_heads(inputs: Inputs, source: Any) -> dict[str, tuple[Model, Any]]:
    from importance_tasks.keras.keras_model import heads_of

    found = heads_of(inputs.loaded.model, source.data, source.targets)
    if len(found) == 1:
        return {"": (found[0][1], found[0][2])}
    return {head.key: (m, d) for head, m, d in found}


def _record(
    found: Mapping[str, Watched],
    *,
    ds: str,
    modes: Sequence[Mode],
    ref: ModelRef,
    uri: str,
    rows: int,
) -> dict[str, Any]:
    """``monitor/<ds>.json``: one output's record at the top level; several under
    ``outputs``, with the flags of all (each naming its output) and the lowest nDCG."""
    head = {
        "window": ds,
        "modes": [str(m) for m in modes],
        "model": {"name": ref.name, "version": str(ref.version)},
        "data": {"uri": uri, "rows": rows},
    }
    if list(found) == [""]:
        return {**head, **found[""].record()}
    parts = {output: watched.record() for output, watched in found.items()}
    return {
        **head,
        "outputs": parts,
        "drifted": [{**d, "output": o} for o, part in parts.items() for d in part["drifted"]],
        "data_drift": sorted({c for part in parts.values() for c in part["data_drift"]}),
        "ndcg": min(part["ndcg"] for part in parts.values()),
    }


def _metric(name: str, output: str) -> str:
    """``monitor/<name>`` (a feature, or ``ndcg``); of one output of several,
    ``monitor/<output>/<name>``."""
    return metric_key(Monitor.METRIC, output, name) if output else metric_key(Monitor.METRIC, name)


def _flag_name(flag: Mapping[str, Any]) -> str:
    return f"{flag['output']}:{flag['feature']}" if flag.get("output") else str(flag["feature"])


def _report(
    client: Any,
    run_id: str,
    ref: ModelRef,
    record: Mapping[str, Any],
    found: Mapping[str, Watched],
    metrics: Mapping[str, float],
) -> str:
    """The report over every window logged so far, this one included."""
    bands: dict[str, dict[str, tuple[float, float, float]]] = {}
    history: dict[str, dict[str, list[tuple[int, float]]]] = {}
    step = runs.day_number(str(record["window"]))
    for output, watched in found.items():
        base = watched.baseline.first
        top = sorted(range(len(base.features)), key=lambda i: -base.mean[i])[:CHARTED]
        keys = {base.features[i]: _metric(base.features[i], output) for i in top}
        logged = runs.metric_history(client, run_id, list(keys.values()))
        bands[output] = {
            base.features[i]: (float(base.mean[i]), float(base.low[i]), float(base.high[i]))
            for i in top
        }
        history[output] = {
            f: sorted({**dict(logged[k]), step: metrics[k]}.items()) for f, k in keys.items()
        }
    return monitor_report_html(
        title=f"Importance monitor: {ref.name} v{ref.version}",
        latest=record,
        bands=bands,
        history=history,
    )
