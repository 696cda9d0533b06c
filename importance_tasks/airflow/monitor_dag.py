"""The shipped monitor DAG (``importance_monitor``): the deployed version watched on each new
window of production data, without labels (``stage.monitoring``).

Two tasks: ``watch`` (TensorFlow, the model, both tables: the whole comparison, recorded in
MLflow) and ``alarm``, which on drift emits an event on ``IMPORTANCE_DRIFT`` (its ``extra``:
the model, the window, the drifted features, the run) and calls the notifiers given to the
factory; without drift it is skipped, so no event is emitted. A notifier that fails is logged,
never failing the run. A window whose table is not there yet is waited for: ``watch`` is
retried every ``poll`` for up to ``wait``; a table that is there but wrong fails at once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Param, dag, task

from importance_tasks.airflow.assets import IMPORTANCE_DRIFT
from importance_tasks.airflow.params import START, model_params, with_defaults
from importance_tasks.airflow.stage_group import fail_fast
from importance_tasks.config import settings
from importance_tasks.contract import Monitor

__all__ = [
    "MONITOR_SETTINGS",
    "alarm_task",
    "importance_monitor_dag",
    "importance_monitor_params",
    "watch_task",
    "window_date",
    "window_uri",
]

LOG = logging.getLogger(__name__)

# The analysis settings a monitor takes (the rest are the analysis's own: steps, sanity).
MONITOR_SETTINGS = (
    "methods",
    "method_options",
    "seed",
    "scoring",
    "top_k",
    "feature_names",
    "columns_in_model_order",
    "time_column",
    "rows_in_time_order",
    "series_column",
    "horizon",
    "sequence_length",
)

MONITOR_DOC = """
### Importance monitor

Watches a registered model's deployed version (`model_alias`, default `champion`) on each new
window of production data (`data_uri`, where `{ds}` is the date of the run's data interval
start), without labels: the importance of what drives its predictions, compared with the same
label-free analysis of the version's evaluation data (the baseline, computed once). A feature
is flagged when its change is beyond both estimates' noise (Holm over the window's features at
`alpha`) and at least `materiality` of the baseline's total. Each window is logged in the
version's monitoring run (experiment `importance-monitor`): `monitor/<ds>.json`, metrics
`monitor/<feature>` stepped by day, `monitor/report.html`; the version's tags
`importance.monitor.*`. On drift, an event on the `feature_importance_drift` Asset.
"""


def importance_monitor_params() -> dict[str, Param]:
    """The monitor's Params: the model, the window's data, the analysis settings it takes
    (methods default to permutation alone) and the drift test's."""
    from importance_tasks.monitor import ALPHA, DEFAULT_METHODS, MATERIALITY

    analysis = {s.name: s for s in settings() if s.name in MONITOR_SETTINGS}
    params = {
        **model_params(
            alias="champion",
            target_help="Target column of the evaluation data (empty: as the analysis finds it); "
            "a window holding it is analysed by loss too",
        ),
        "data_uri": Param(
            None,
            type=["null", "string"],
            description="The window's table; {ds} is the run's data interval start (YYYY-MM-DD). "
            "Empty: the URI of the Asset event that triggered the run",
        ),
        "baseline_uri": Param(
            None,
            type=["null", "string"],
            description="The baseline's evaluation table; empty: the data the version logged",
        ),
        "alpha": Param(
            ALPHA,
            type="number",
            exclusiveMinimum=0,
            exclusiveMaximum=1,
            description="Chance of any false flag in a window (Holm over its features)",
        ),
        "materiality": Param(
            MATERIALITY,
            type="number",
            minimum=0,
            exclusiveMaximum=1,
            description="Least change flagged, as a share of the baseline's total importance",
        ),
        "experiment": Param(Monitor.EXPERIMENT, type="string", minLength=1),
    }
    for name, setting in analysis.items():
        default = list(DEFAULT_METHODS) if name == "methods" else setting.default
        params[name] = Param(default, description=setting.help, **setting.schema)
    return params


def watch_task(params: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """The ``watch`` task's body: one window, recorded (``stage.monitoring.watch_window``)."""
    from importance_tasks.airflow.mlflow_connection import configure_mlflow
    from importance_tasks.errors import InputError
    from importance_tasks.mlflow_io.client import connect
    from importance_tasks.mlflow_io.model_ref import ModelSpec
    from importance_tasks.stage.monitoring import MonitorSettings, watch_window

    if not params.get("model_name"):
        raise InputError("model_name is empty: give the registered model to watch")
    version = params.get("model_version")
    spec = ModelSpec(
        params["model_name"], alias=None if version else params.get("model_alias"),
        version=version or None,
    )  # fmt: skip
    ds = window_date(context)
    data_uri = window_uri(params.get("data_uri"), ds, context.get("triggering_asset_events"))
    chosen = MonitorSettings(
        analysis={k: params[k] for k in MONITOR_SETTINGS if params.get(k) is not None},
        alpha=float(params["alpha"]),
        materiality=float(params["materiality"]),
        baseline_uri=params.get("baseline_uri") or None,
        target=params.get("target") or None,
        experiment=params["experiment"],
    )
    client = connect(configure_mlflow())
    return watch_window(client, spec, ds=ds, data_uri=data_uri, settings=chosen).to_dict()


def window_date(context: Mapping[str, Any]) -> str:
    """The date of the run's data interval start (its logical date; a run triggered without
    one: when it was asked to run)."""
    start = context.get("data_interval_start") or context.get("logical_date")
    if start is None:
        start = context["dag_run"].run_after
    return str(start.date().isoformat())


def window_uri(template: str | None, ds: str, events: Any) -> str:
    """The window's URI: the Param with ``{ds}`` replaced, else the triggering Asset event's
    (its ``extra["data_uri"]``, else the Asset's URI)."""
    from importance_tasks.errors import InputError

    if template:
        return template.replace("{ds}", ds)
    for asset, found in (events or {}).items():
        for event in found:
            extra = getattr(event, "extra", None) or {}
            uri = (
                extra.get("data_uri")
                or getattr(asset, "uri", None)
                or getattr(getattr(event, "asset", None), "uri", None)
            )
            if uri:
                return str(uri)
    raise InputError("no data_uri: give the Param, or trigger the DAG with an Asset event")


def alarm_task(
    summary: Mapping[str, Any], notifiers: Sequence[Any], context: Any, outlet_events: Any
) -> str:
    """On drift: the event on ``IMPORTANCE_DRIFT`` and each notifier; else skipped."""
    from airflow.sdk.exceptions import AirflowSkipException

    if summary["status"] != "drift":
        raise AirflowSkipException(f"no importance drift in window {summary['window']}")
    outlet_events[IMPORTANCE_DRIFT].extra = dict(summary)
    for notifier in notifiers:
        try:
            notifier(context)
        except Exception:  # a notifier's failure must not fail the run
            LOG.exception("notifier %r failed", notifier)
    return f"drift in {summary['model_name']} v{summary['model_version']}: {summary['drifted']}"


def importance_monitor_dag(
    *,
    dag_id: str = "importance_monitor",
    schedule: Any = None,
    notifiers: Sequence[Any] = (),
    wait: timedelta = timedelta(hours=6),
    poll: timedelta = timedelta(minutes=15),
    catchup: bool = False,
    defaults: Mapping[str, Any] | None = None,
) -> DAG:
    """The monitor DAG: ``schedule`` (None: by hand; ``@daily``; Assets of new data),
    ``notifiers`` called on drift (Airflow notifiers, e.g. a Slack or SMTP provider's), a
    window waited for up to ``wait``, checked every ``poll``."""
    params = importance_monitor_params()
    alarms = tuple(notifiers)

    @dag(
        dag_id=dag_id,
        schedule=schedule,
        start_date=START,
        catchup=catchup,
        max_active_runs=1,
        is_paused_upon_creation=True,
        doc_md=MONITOR_DOC,
        tags=["mlflow", "importance", "monitor"],
        params=with_defaults(dag_id, params, defaults),
    )
    def importance_monitor() -> None:
        @task(retries=max(1, int(wait / poll)), retry_delay=poll)
        @fail_fast
        def watch(params=None, **context) -> dict[str, Any]:  # type: ignore[no-untyped-def]
            return watch_task(params, context)

        @task(outlets=[IMPORTANCE_DRIFT])
        def alarm(summary: dict[str, Any], outlet_events=None, **context) -> str:  # type: ignore[no-untyped-def]
            return alarm_task(summary, alarms, context, outlet_events)

        summary: Any = watch()  # an XComArg
        alarm(summary)

    return importance_monitor()
