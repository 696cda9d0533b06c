"""The monitoring of a model version in MLflow: one run per version (and monitoring settings)
in the monitor experiment, the baseline logged once, each window's record, metrics stepped by
the window's day, the report, and the version's ``importance.monitor.*`` tags.

A window never touches what the analysis of record owns: no other ``importance.*`` version tag
is set and no analysis run is written (``contract.Monitor``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from importance_tasks.contract import Monitor, MonitorStatus
from importance_tasks.mlflow_io.runs import experiment_id, log_artifacts, read_json_artifact
from importance_tasks.mlflow_io.version_tags import set_version_tag

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from importance_tasks.mlflow_io.model_ref import ModelRef

__all__ = [
    "day_number",
    "log_baseline",
    "log_window",
    "metric_history",
    "monitor_key",
    "monitor_run",
    "read_baseline",
    "tag_monitored_version",
]


def monitor_key(ref: ModelRef, settings: Mapping[str, Any]) -> str:
    """What a monitoring run is for: the version and the settings its baseline was computed
    with (16 hex digits of SHA-256)."""
    text = json.dumps([ref.name, str(ref.version), dict(settings)], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def monitor_run(
    client: MlflowClient, ref: ModelRef, *, key: str, experiment: str, settings: Mapping[str, Any]
) -> str:
    """The monitoring run of ``key``: found by its tag, else created (with the settings as
    params)."""
    exp = experiment_id(client, experiment)
    found = client.search_runs(
        [exp], filter_string=f"tags.`{Monitor.RUN_KEY}` = '{key}'", max_results=10
    )
    if found:
        return str(min(found, key=lambda r: (r.info.start_time, r.info.run_id)).info.run_id)
    run = client.create_run(
        exp,
        run_name=f"monitor {ref.name} v{ref.version}",
        tags={
            Monitor.RUN_KEY: key,
            Monitor.RUN_MODEL: ref.name,
            Monitor.RUN_VERSION: str(ref.version),
        },
    )
    run_id = str(run.info.run_id)
    from mlflow.entities import Param

    params = [Param(k, json.dumps(v, default=str)[:6000]) for k, v in sorted(settings.items())]
    client.log_batch(run_id, params=params)
    client.set_terminated(run_id)
    return run_id


def read_baseline(client: MlflowClient, run_id: str) -> dict[str, Any] | None:
    """The run's baseline record (``monitor/baseline.json``), or None before its first window."""
    found = read_json_artifact(client, run_id, Monitor.BASELINE)
    return None if found is None else dict(found)


def log_baseline(client: MlflowClient, run_id: str, record: Mapping[str, Any]) -> None:
    _log_files(client, run_id, {Monitor.BASELINE: json.dumps(record, indent=1)})


def _log_files(client: MlflowClient, run_id: str, files: Mapping[str, str]) -> None:
    """Files by their path under ``monitor/`` (``runs.log_artifacts`` into that folder)."""
    prefix = Monitor.DIR + "/"
    log_artifacts(
        client, run_id, {p.removeprefix(prefix): c for p, c in files.items()}, folder=Monitor.DIR
    )


def day_number(ds: str) -> int:
    """The metric step of window ``ds`` (``YYYY-MM-DD``): days since 1970-01-01."""
    return (dt.date.fromisoformat(ds) - dt.date(1970, 1, 1)).days


def log_window(
    client: MlflowClient,
    run_id: str,
    *,
    ds: str,
    record: Mapping[str, Any],
    metrics: Mapping[str, float],
    report: str,
) -> None:
    """The window's record, its metrics at the window's day, and the report again."""
    import math

    from mlflow.entities import Metric

    step = day_number(ds)
    timestamp = step * 86_400_000
    batch = [
        Metric(key, float(v), timestamp, step)
        for key, v in metrics.items()
        if not math.isnan(float(v))
    ]
    for start in range(0, len(batch), 1000):  # MLflow's log_batch limit
        client.log_batch(run_id, metrics=batch[start : start + 1000])
    _log_files(
        client,
        run_id,
        {Monitor.window_path(ds): json.dumps(record, indent=1), Monitor.REPORT: report},
    )


def metric_history(
    client: MlflowClient, run_id: str, keys: Sequence[str]
) -> dict[str, list[tuple[int, float]]]:
    """Each metric's (step, value) points, in step order (the last value of a step)."""
    found = {}
    for key in keys:
        points = {m.step: m.value for m in sorted(client.get_metric_history(run_id, key), key=_at)}
        found[key] = sorted(points.items())
    return found


def _at(metric: Any) -> tuple[int, int]:
    return (int(metric.step), int(metric.timestamp))


def tag_monitored_version(
    client: MlflowClient,
    ref: ModelRef,
    *,
    status: MonitorStatus,
    drifted: Sequence[str],
    window: str,
    run_id: str,
) -> None:
    """The version's ``importance.monitor.*`` tags (and nothing else)."""
    values = {
        Monitor.WINDOW: window,
        Monitor.DRIFTED: ",".join(drifted),
        Monitor.RUN_ID: run_id,
        Monitor.STATUS: str(status),
    }
    for key, value in values.items():
        set_version_tag(client, ref.name, str(ref.version), key, value)
