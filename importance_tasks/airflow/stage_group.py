"""The importance stage as an Airflow task group.

plan (which also packs the jobs by cost, ``stage.packing``) -> compute (mapped: one task per
pack) -> aggregate -> publish.

Tasks call the plain functions of ``importance_tasks.stage``; XCom carries plans (ids, URIs,
settings) and small summaries. Heavy modules (TensorFlow, MLflow, pandas) load inside tasks.
What ``errors.is_retryable`` says a retry cannot fix (bad input: no such model, data that does
not fit, a bad option) fails at once with ``AirflowFailException``; anything else, such as MLflow
being unreachable, is retried with exponential backoff.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.sdk import get_current_context, task, task_group

from importance_tasks.airflow.assets import IMPORTANCE_RESULTS

if TYPE_CHECKING:
    from importance_tasks.stage import Plan
    from importance_tasks.stage.messages import Request

__all__ = [
    "COMPUTE_SLOTS",
    "RETRY_ARGS",
    "fail_fast",
    "importance_stage",
    "requests_from_params",
    "stage_settings",
]

# The most compute tasks per analysis, declared once: the DAG's Param and the task group's
# keyword are checked against it.
COMPUTE_SLOTS: dict[str, Any] = {"type": ["null", "integer"], "minimum": 1}

RETRY_ARGS: dict[str, Any] = {
    "retries": 3,
    "retry_delay": timedelta(seconds=10),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=5),
}
# Inputs of an analysis beside its configuration (which model is the request's own).
INPUT_KEYS = ("data_uri", "target", "experiment")
# An Airflow Variable holding a deployment's configuration of record (JSON settings).
CONFIG_VARIABLE = "importance_config"
F = TypeVar("F", bound=Callable[..., Any])


def fail_fast(fn: F) -> F:
    """Turn errors that a retry cannot fix into ``AirflowFailException``."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from airflow.sdk.exceptions import AirflowFailException

        from importance_tasks.errors import is_retryable

        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if is_retryable(exc):
                raise
            raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc

    return wrapper  # type: ignore[return-value]


def requests_from_params(params: Mapping[str, Any]) -> list[Request]:
    """The one analysis a manual run's Params ask for."""
    from importance_tasks.errors import InputError
    from importance_tasks.mlflow_io.model_ref import ModelSpec
    from importance_tasks.stage.messages import Request

    name, alias, version = (params.get(k) for k in ("model_name", "model_alias", "model_version"))
    if not name:
        raise InputError("the model_name param is required (or trigger the DAG by an Asset event)")
    if bool(alias) == bool(version):
        raise InputError(
            f"give exactly one of model_alias and model_version (got alias={alias!r}, "
            f"version={version!r})"
        )
    return [Request(ModelSpec(name=name, alias=alias or None, version=version or None))]


def _push_links(plan: Plan) -> None:
    from importance_tasks.airflow.links import urls

    found = urls(
        plan.tracking_uri,
        experiment_id=plan.experiment_id,
        run_id=plan.run_id,
        name=plan.model.name,
        version=plan.model.version,
    )
    ti = get_current_context()["ti"]
    for key, url in found.items():
        ti.xcom_push(key=key, value=url)


def _label(text: str) -> None:
    get_current_context()["importance_label"] = text  # type: ignore[typeddict-unknown-key]


@task(task_id="plan", **RETRY_ARGS)
@fail_fast
def plan_versions(
    requests: list[dict[str, Any]] | None, overrides: dict[str, Any], slots: int | None
) -> list[dict[str, Any]]:
    """Pin every requested model version, check its data and settings, open its MLflow run;
    returns the compute tasks, each with its version's plan (see ``_packed``).

    A version that cannot be analysed as registered (no readable evaluation data, no target,
    unnamed columns, an unsupported model) is tagged ``importance.status`` ``needs_data`` or
    ``unsupported`` with ``importance.reason``, and left out; when none is left, the task is
    skipped (failed with the Param ``fail_when_unanalysable``), so that "nothing to analyse"
    is not "the stage broke".
    """
    import logging

    from airflow.sdk.exceptions import AirflowSkipException

    from importance_tasks.airflow.assets import requests_from_events
    from importance_tasks.airflow.mlflow_connection import configure_mlflow
    from importance_tasks.config import AnalysisConfig, settings
    from importance_tasks.contract import DEFAULT_EXPERIMENT
    from importance_tasks.errors import InputError, unanalysable_status
    from importance_tasks.stage import is_of_record, plan
    from importance_tasks.stage.messages import Request

    context = get_current_context()
    params = dict(context.get("params") or {})
    if requests is None:
        events = context.get("triggering_asset_events")
        asked = requests_from_events(events) or requests_from_params(params)
    else:
        asked = [Request.from_dict(r) for r in requests]
    names = [s.name for s in settings()]
    record = AnalysisConfig.from_settings(stage_settings(overrides))
    settings_asked = stage_settings(overrides, params)
    tracking_uri = configure_mlflow()
    plans, unanalysable = [], []
    for request in asked:
        values = {**settings_asked, **{k: params.get(k) for k in INPUT_KEYS}}
        for layer in (overrides, request.settings):
            values.update({k: v for k, v in layer.items() if v is not None and k in INPUT_KEYS})
        values.update({k: v for k, v in request.settings.items() if k in names})
        config = AnalysisConfig.from_settings({k: values.get(k) for k in names})
        spec = request.model
        try:
            pinned = plan(
                spec,
                config,
                tracking_uri=tracking_uri,
                data_uri=values.get("data_uri") or None,
                target=_targets(values.get("target")),
                experiment=values.get("experiment") or DEFAULT_EXPERIMENT,
                tag_version=is_of_record(config, record),
            )
        except InputError as exc:
            status = unanalysable_status(exc)
            if status is None or config.fail_when_unanalysable:
                raise
            logging.getLogger(__name__).warning("%s: %s: %s", spec, status, exc)
            unanalysable.append(f"{spec}: {status}: {exc}")
            continue
        plans.append(pinned)
    if not plans and unanalysable:
        raise AirflowSkipException("; ".join(unanalysable))
    return _packed(plans, slots or params.get("compute_slots"))


def _targets(value: Any) -> str | list[str] | None:
    """The target Param or argument: a column, names separated by commas, or a list."""
    if not value:
        return None
    names = value.split(",") if isinstance(value, str) else list(value)
    found = [str(n).strip() for n in names if str(n).strip()]
    return found[0] if len(found) == 1 else found or None


def stage_settings(
    overrides: Mapping[str, Any], params: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The settings of an analysis: the defaults, then the Airflow Variable
    ``importance_config`` (a JSON object of settings, for a deployment), then the Params of the
    run that differ from their defaults (a run triggered with other settings), then the task
    group's arguments. Without ``params`` this is the stage's configuration of record: the
    analyses that set the version's tags."""
    from airflow.sdk import Variable

    from importance_tasks.config import settings
    from importance_tasks.errors import InputError

    defaults = {s.name: s.default for s in settings()}
    deployed = Variable.get(CONFIG_VARIABLE, default=None, deserialize_json=True)
    if deployed is not None and not isinstance(deployed, Mapping):
        raise InputError(f"the Variable {CONFIG_VARIABLE} must be a JSON object of settings")
    asked = {k: v for k, v in (params or {}).items() if k in defaults and v != defaults[k]}
    values = {**defaults, **(deployed or {}), **asked}
    values.update({k: v for k, v in overrides.items() if v is not None and k in defaults})
    return values


def _packed(plans: list[Plan], slots: int | None) -> list[dict[str, Any]]:
    """The compute tasks: each version's jobs (one per method, or per method and row shard)
    packed by estimated cost into at most ``slots`` tasks (default: this worker's
    processors); the packing is logged with its estimates. (Listed by ``plan``: a task of
    its own cost a second of scheduling before the compute tasks could start.)"""
    import logging
    import os

    from importance_tasks.stage import jobs
    from importance_tasks.stage.messages import PackedTask
    from importance_tasks.stage.packing import pack

    log = logging.getLogger(__name__)
    slots = slots or os.cpu_count() or 1
    out = []
    for plan in plans:
        tasks = pack(plan, jobs(plan), slots=slots)
        log.info(
            "%s: %d jobs in %d compute tasks (at most %d)",
            plan.label,
            sum(len(t.jobs) for t in tasks),
            len(tasks),
            slots,
        )
        for packed in tasks:
            log.info("  ~%.1f s: %s", packed.estimated_s, packed.label)
            out.append(PackedTask(plan, packed).to_dict())
    return out


@task(map_index_template="{{ importance_label }}", **RETRY_ARGS)
@fail_fast
def compute(work: dict[str, Any]) -> dict[str, Any]:
    """Compute one packed task's jobs for one model version, each logged to the analysis run.
    (``work``, since ``task`` is a name of Airflow's context.)"""
    from importance_tasks.airflow.mlflow_connection import configure_mlflow
    from importance_tasks.stage import compute_jobs
    from importance_tasks.stage.messages import ComputedTask, PackedTask

    packed = PackedTask.from_dict(work)
    plan, jobs = packed.plan, list(packed.task.jobs)
    _label(f"{' + '.join(j.label for j in jobs)} · {plan.label}")
    configure_mlflow()
    summaries = compute_jobs(plan, jobs)
    _push_links(plan)
    return ComputedTask(packed.task.estimated_s, tuple(summaries)).to_dict()


@task(**RETRY_ARGS)
@fail_fast
def aggregate_analysis(work: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consensus, agreement and comparison with the previous version, for every plan of the
    compute tasks (``work``, as ``plan`` listed them).

    One task, in version order, so that when several versions of a model are analysed in one
    run (a registry audit), each is compared with the one before it.
    """
    from importance_tasks.airflow.mlflow_connection import configure_mlflow
    from importance_tasks.stage import aggregate
    from importance_tasks.stage.messages import AggregatedPlan, PackedTask

    configure_mlflow()
    packed = [PackedTask.from_dict(w).plan for w in work]
    plans = {plan.run_id: plan for plan in packed}.values()
    ordered = sorted(plans, key=lambda p: (p.model.name, int(p.model.version)))
    return [AggregatedPlan(plan, aggregate(plan)).to_dict() for plan in ordered]


@task(map_index_template="{{ importance_label }}", outlets=[IMPORTANCE_RESULTS], **RETRY_ARGS)
@fail_fast
def publish_analysis(aggregated: dict[str, Any]) -> dict[str, Any]:
    """Report, manifest and model version tags; returns the analysis summary, which is also
    the ``extra`` of this version's event on ``IMPORTANCE_RESULTS`` (status, top features,
    drift, sanity verdicts, run id) for downstream DAGs such as ``promote_model``."""
    from importance_tasks.airflow.mlflow_connection import configure_mlflow
    from importance_tasks.stage import publish
    from importance_tasks.stage.messages import AggregatedPlan

    plan = AggregatedPlan.from_dict(aggregated).plan
    _label(plan.label)
    configure_mlflow()
    summary = publish(plan)
    _push_links(plan)
    get_current_context()["outlet_events"][IMPORTANCE_RESULTS].extra = summary.event()
    return summary.to_dict()


def importance_stage(
    *,
    requests: Any = None,
    model: str | None = None,
    data_uri: str | None = None,
    target: str | list[str] | None = None,
    experiment: str | None = None,
    group_id: str = "importance",
    compute_slots: int | None = None,
    **settings: Any,
) -> Any:
    """Add the whole importance stage to the current DAG as one task group.

    Parameters
    ----------
    requests : list of dict or XComArg, optional
        Analyses to run, each ``{"model": {"name": ..., "alias" or "version": ...},
        ...settings}``. When None (and ``model`` is None): the model versions in the run's
        Asset events on ``REGISTERED_MODEL_VERSIONS``, else the DAG's Params ``model_name``
        with ``model_alias`` or ``model_version``.
    model : str, optional
        Shorthand for one request: ``NAME@ALIAS`` or ``NAME/VERSION``.
    data_uri, target, experiment : str, optional
        Inputs; None means the DAG's Param of that name, else the stage's default. ``target``
        may name several columns (a list, or separated by commas): one per output analysed.
    group_id : str, default="importance"
    compute_slots : int, optional
        The most compute tasks one analysis is split into (``stage.packing``): the tasks
        that can usefully run at once. Default: the processors of the worker that plans.
    **settings
        Any setting of ``importance_tasks.config.AnalysisConfig`` (``methods``, ``seed``,
        ``method_options``, ``n_repeats``, ...); None means the DAG's Param of that name.
        Checked when the DAG is parsed.

    Returns
    -------
    XComArg
        The mapped publish task's output: one summary per analysed model version.
    """
    from importance_tasks.config import AnalysisConfig
    from importance_tasks.errors import InputError
    from importance_tasks.mlflow_io.model_ref import ModelSpec
    from importance_tasks.setting_schema import checked_value
    from importance_tasks.stage.messages import Request

    AnalysisConfig.from_settings(settings)  # a bad setting fails the DAG's parsing, named
    compute_slots = checked_value("compute_slots", compute_slots, COMPUTE_SLOTS)
    if model is not None:
        if requests is not None:
            raise InputError("give either model or requests, not both")
        requests = [Request(ModelSpec.parse(model)).to_dict()]
    overrides = {
        **settings,
        "data_uri": data_uri,
        "target": target,
        "experiment": experiment,
    }

    @task_group(group_id=group_id)
    def stage() -> Any:
        work = plan_versions(requests, overrides, compute_slots)
        computed = compute.expand(work=work)
        aggregated = aggregate_analysis(work)
        computed >> aggregated
        return publish_analysis.expand(aggregated=aggregated)

    return stage()
