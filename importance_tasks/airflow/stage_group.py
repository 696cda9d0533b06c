"""The importance stage as an Airflow task group.

resolve -> compute (one mapped task per method) -> aggregate -> publish.

Tasks call the plain functions of ``importance_tasks.stage``; XCom carries plans (ids, URIs,
settings) and small summaries. Heavy modules (TensorFlow, MLflow, pandas) load inside tasks.
Bad input (``InputError``: no such model, data that does not fit) fails at once with
``AirflowFailException``; anything else, such as MLflow being unreachable, is retried with
exponential backoff.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, TypeVar

from airflow.sdk import get_current_context, task, task_group

__all__ = ["RETRY_ARGS", "importance_stage", "options_from_settings", "requests_from_params"]

RETRY_ARGS: dict[str, Any] = {
    "retries": 3,
    "retry_delay": timedelta(seconds=10),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=5),
}
SETTING_KEYS = (
    "data_uri",
    "target",
    "methods",
    "n_repeats",
    "max_samples",
    "seed",
    "experiment",
    "sanity_check",
    "shard_rows",
)
F = TypeVar("F", bound=Callable[..., Any])


def _fail_fast(fn: F) -> F:
    """Turn errors that a retry cannot fix into ``AirflowFailException``."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from airflow.sdk.exceptions import AirflowFailException

        from importance_tasks.mlflow_io.connection import is_transient

        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if is_transient(exc) or not _is_permanent(exc):
                raise
            raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc

    return wrapper  # type: ignore[return-value]


def _is_permanent(exc: BaseException) -> bool:
    from mlflow.exceptions import MlflowException

    from importance_tasks.errors import InputError

    return isinstance(exc, (InputError, MlflowException))


def requests_from_params(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The one analysis a manual run's Params ask for."""
    from importance_tasks.errors import InputError

    name, alias, version = (params.get(k) for k in ("model_name", "model_alias", "model_version"))
    if not name:
        raise InputError("the model_name param is required (or trigger the DAG by an Asset event)")
    if bool(alias) == bool(version):
        raise InputError(
            f"give exactly one of model_alias and model_version (got alias={alias!r}, "
            f"version={version!r})"
        )
    return [{"model": f"{name}@{alias}" if alias else f"{name}/{version}"}]


def options_from_settings(
    settings: Mapping[str, Any], methods: list[str]
) -> dict[str, dict[str, Any]]:
    options: dict[str, dict[str, Any]] = {}
    for method in methods:
        chosen: dict[str, Any] = {}
        if settings.get("n_repeats") is not None and method == "permutation":
            chosen["n_repeats"] = int(settings["n_repeats"])
        if settings.get("max_samples") is not None and method in {"permutation", "probe"}:
            value = float(settings["max_samples"])  # a fraction, or a row count above 1
            chosen["max_samples"] = int(value) if value > 1 else value
        if settings.get("shard_rows") is not None and method in {"permutation", "probe"}:
            chosen["shard_rows"] = int(settings["shard_rows"])
        if chosen:
            options[method] = chosen
    return options


def _label(plan: Mapping[str, Any]) -> str:
    return f"{plan['model_name']} v{plan['model_version']}"


def _push_links(plan: Mapping[str, Any]) -> None:
    import mlflow

    from importance_tasks.airflow.links import urls

    run = mlflow.MlflowClient(plan["tracking_uri"]).get_run(plan["run_id"])
    found = urls(
        plan["tracking_uri"],
        experiment_id=run.info.experiment_id,
        run_id=plan["run_id"],
        name=plan["model_name"],
        version=plan["model_version"],
    )
    ti = get_current_context()["ti"]
    for key, url in found.items():
        ti.xcom_push(key=key, value=url)


@task(**RETRY_ARGS)
@_fail_fast
def resolve(
    requests: list[dict[str, Any]] | None, overrides: dict[str, Any]
) -> list[dict[str, Any]]:
    """Pin every requested model version, check its data, open its MLflow run."""
    from importance_tasks.airflow.assets import requests_from_events
    from importance_tasks.airflow.connection import configure_mlflow
    from importance_tasks.engine import DEFAULT_METHODS
    from importance_tasks.stage import DEFAULT_EXPERIMENT, plan_analysis

    context = get_current_context()
    params = dict(context.get("params") or {})
    settings = {k: params.get(k) for k in SETTING_KEYS}
    settings.update({k: v for k, v in overrides.items() if v is not None})
    if requests is None:
        events = context.get("triggering_asset_events")
        requests = requests_from_events(events) or requests_from_params(params)
    tracking_uri = configure_mlflow()
    plans = []
    for request in requests:
        merged = {**settings, **{k: v for k, v in request.items() if v is not None}}
        methods = list(merged.get("methods") or DEFAULT_METHODS)
        plan = plan_analysis(
            merged["model"],
            tracking_uri=tracking_uri,
            data_uri=merged.get("data_uri") or None,
            target=merged.get("target") or None,
            methods=methods,
            options=options_from_settings(merged, methods),
            seed=int(merged.get("seed") or 0),
            experiment=merged.get("experiment") or DEFAULT_EXPERIMENT,
            sanity_check=bool(merged.get("sanity_check")),
        )
        plans.append(plan.to_dict())
    return plans


@task
def list_jobs(plans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One compute job per (model version, method), or per (model version, method, row shard)
    for the methods that split large data into shards."""
    from importance_tasks.stage import Plan, jobs

    return [
        {"plan": p, "method": method, "shard": shard}
        for p in plans
        for method, shard in jobs(Plan.from_dict(p))
    ]


@task(map_index_template="{{ importance_label }}", **RETRY_ARGS)
@_fail_fast
def compute(job: dict[str, Any]) -> dict[str, Any]:
    """Compute one method for one model version and log it to the analysis run."""
    from importance_tasks.airflow.connection import configure_mlflow
    from importance_tasks.stage import Plan, compute_method

    shard = job.get("shard")
    label = (
        job["method"] + ("" if shard is None else f" shard {shard}") + f" · {_label(job['plan'])}"
    )
    get_current_context()["importance_label"] = label  # type: ignore[typeddict-unknown-key]
    configure_mlflow()
    summary = compute_method(Plan.from_dict(job["plan"]), job["method"], shard)
    _push_links(job["plan"])
    return summary


@task(**RETRY_ARGS)
@_fail_fast
def aggregate_analysis(plans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consensus, agreement and comparison with the previous version, for every plan.

    One task, in version order, so that when several versions of a model are analysed in one
    run (a registry audit), each is compared with the one before it.
    """
    from importance_tasks.airflow.connection import configure_mlflow
    from importance_tasks.stage import Plan, aggregate

    configure_mlflow()
    ordered = sorted(plans, key=lambda p: (p["model_name"], int(p["model_version"])))
    return [{"plan": plan, "summary": aggregate(Plan.from_dict(plan))} for plan in ordered]


@task(map_index_template="{{ importance_label }}", **RETRY_ARGS)
@_fail_fast
def publish_analysis(aggregated: dict[str, Any]) -> dict[str, Any]:
    """Report, manifest and model version tags; returns the analysis summary."""
    from importance_tasks.airflow.connection import configure_mlflow
    from importance_tasks.stage import Plan, publish

    plan = aggregated["plan"]
    get_current_context()["importance_label"] = _label(plan)  # type: ignore[typeddict-unknown-key]
    configure_mlflow()
    summary = publish(Plan.from_dict(plan))
    _push_links(plan)
    return summary


def importance_stage(
    *,
    requests: Any = None,
    model: str | None = None,
    data_uri: str | None = None,
    target: str | None = None,
    methods: list[str] | None = None,
    n_repeats: int | None = None,
    max_samples: float | None = None,
    seed: int | None = None,
    experiment: str | None = None,
    sanity_check: bool | None = None,
    shard_rows: int | None = None,
    group_id: str = "importance",
) -> Any:
    """Add the whole importance stage to the current DAG as one task group.

    Parameters
    ----------
    requests : list of dict or XComArg, optional
        Analyses to run, each ``{"model": "NAME@ALIAS" | "NAME/VERSION", ...settings}``. When
        None (and ``model`` is None): the model versions in the run's Asset events on
        ``REGISTERED_MODEL_VERSIONS``, else the DAG's Params ``model_name`` with
        ``model_alias`` or ``model_version``.
    model : str, optional
        Shorthand for one request.
    data_uri, target, methods, n_repeats, max_samples, seed : optional
    experiment, sanity_check, shard_rows : optional
        Settings; None means the DAG's Param of that name, else the stage's default.
    group_id : str, default="importance"

    Returns
    -------
    XComArg
        The mapped publish task's output: one summary per analysed model version.
    """
    if model is not None:
        if requests is not None:
            raise ValueError("give either model or requests, not both")
        requests = [{"model": model}]
    overrides = {
        "data_uri": data_uri,
        "target": target,
        "methods": methods,
        "n_repeats": n_repeats,
        "max_samples": max_samples,
        "seed": seed,
        "experiment": experiment,
        "sanity_check": sanity_check,
        "shard_rows": shard_rows,
    }

    @task_group(group_id=group_id)
    def stage() -> Any:
        plans = resolve(requests, overrides)
        computed = compute.expand(job=list_jobs(plans))
        aggregated = aggregate_analysis(plans)
        computed >> aggregated
        return publish_analysis.expand(aggregated=aggregated)

    return stage()
