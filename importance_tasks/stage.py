"""The pipeline stage as plain functions: plan -> compute (one per method) -> aggregate -> publish.

Airflow tasks call these one per task; ``analyze`` calls them in sequence for the command line
and for Python callers. Each step takes and returns small JSON-friendly dicts (what XCom
carries); tables and arrays go to MLflow artifacts. Every step can be retried: the run is
found again by its key, a method already logged is not computed twice, metrics are written
with a fixed step and timestamp, and the manifest is written last.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from importance_tasks.data import EvalData
from importance_tasks.engine import DEFAULT_METHODS, Analysis, method_options
from importance_tasks.errors import DataError, InputError, UnsupportedModelError
from importance_tasks.evaluable import constant_features, mark_not_evaluable
from importance_tasks.methods import REGISTRY, ImportanceMethod, make_method
from importance_tasks.methods.shards import Shardable, ShardPart
from importance_tasks.model import Model
from importance_tasks.ranking import Comparison, Consensus, agreement, compare, consensus
from importance_tasks.result import Importance

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from importance_tasks.mlflow_io.registry import LoadedModel, ModelRef

__all__ = [
    "Plan",
    "aggregate",
    "analyze",
    "compute_method",
    "config_hash",
    "configuration",
    "load_inputs",
    "plan_analysis",
    "publish",
    "read_analysis",
    "read_logged",
]

DEFAULT_EXPERIMENT = "importance"
TOP_K = 5


@dataclass(frozen=True)
class Plan:
    """One analysis, pinned: what every later step needs, small enough for XCom."""

    tracking_uri: str
    experiment: str
    model_name: str
    model_version: str
    model_id: str | None
    source_run_id: str | None
    data_uri: str
    target: str
    data_digest: str
    n_rows: int
    methods: tuple[str, ...]
    config: dict[str, Any]
    key: str
    run_id: str
    complete: bool = False
    trust_pyfunc: bool = False
    alias: str | None = None
    constant_features: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "methods": list(self.methods),
            "constant_features": list(self.constant_features),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        return cls(
            **{
                **data,
                "methods": tuple(data["methods"]),
                "constant_features": tuple(data.get("constant_features", ())),
            }
        )


@dataclass
class _Inputs:
    client: MlflowClient
    ref: ModelRef
    loaded: LoadedModel
    data: EvalData
    extra: dict[str, Any] = field(default_factory=dict)


def data_digest(data: EvalData) -> str:
    """A digest of the evaluation rows, columns and target (first 16 hex digits of SHA-256)."""
    digest = hashlib.sha256()
    digest.update(json.dumps(list(data.feature_names)).encode())
    digest.update(np.ascontiguousarray(data.X).data)  # the array's own bytes, not a copy
    digest.update(
        np.ascontiguousarray(data.y).astype(np.float64, copy=False).tobytes()
        if np.issubdtype(data.y.dtype, np.number)
        else data.y.astype(str).tobytes()
    )
    return digest.hexdigest()[:16]


def _load(
    client: MlflowClient,
    spec: str,
    *,
    data_uri: str | None,
    target: str | None,
    trust_pyfunc: bool,
) -> tuple[_Inputs, str, str]:
    from importance_tasks.mlflow_io.connection import access
    from importance_tasks.mlflow_io.registry import fetch_data, fetch_model, resolve_model

    with access(f"read the registered model {spec!r}", "READ (on the registered model)"):
        ref = resolve_model(client, spec)
        loaded = fetch_model(client, ref, trust_pyfunc=trust_pyfunc)
    source = fetch_data(
        client, ref, data_uri=data_uri, target=target, feature_names=loaded.feature_names
    )
    data = source.data
    if loaded.model.n_features != len(data.feature_names):
        raise DataError(
            f"{ref.uri} takes {loaded.model.n_features} inputs but the data has "
            f"{len(data.feature_names)} feature columns: {list(data.feature_names)}"
        )
    return _Inputs(client, ref, loaded, data), source.uri, source.target


def load_inputs(
    model: str,
    *,
    tracking_uri: str | None = None,
    data_uri: str | None = None,
    target: str | None = None,
    trust_pyfunc: bool = False,
) -> tuple[Model, EvalData]:
    """The registered model and its evaluation data, checked, without logging anything."""
    from importance_tasks.mlflow_io.connection import connect

    inputs, _, _ = _load(
        connect(tracking_uri), model, data_uri=data_uri, target=target, trust_pyfunc=trust_pyfunc
    )
    return inputs.loaded.model, inputs.data


def configuration(
    methods: Sequence[str] = DEFAULT_METHODS,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    seed: int = 0,
    scoring: str = "auto",
    groups: Mapping[str, Sequence[str]] | None = None,
    sanity_check: bool = False,
) -> dict[str, Any]:
    """The analysis settings, validated: each method's full options, seed and scoring."""
    options = options or {}
    groups = groups or {}
    if not methods:
        raise InputError("methods must name at least one method")
    unknown = [m for m in methods if m not in REGISTRY]
    if unknown:
        raise InputError(f"unknown methods {unknown}; available: {', '.join(REGISTRY)}")
    stray = sorted(set(options) - set(methods))
    if stray:
        raise InputError(f"options given for methods that do not run: {stray}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"seed must be an integer >= 0, got {seed!r}")
    shared = {"random_state": seed, "groups": dict(groups)}
    resolved = {m: {**method_options(m, shared), **options.get(m, {})} for m in methods}
    for name, kwargs in resolved.items():
        make_method(name, **kwargs)  # validates every option now, not in a later task
    config = {"methods": list(methods), "options": resolved, "seed": seed, "scoring": scoring}
    if sanity_check:  # only when on, so that earlier runs keep their identity
        config["sanity_check"] = True
    return config


def config_hash(config: Mapping[str, Any]) -> str:
    """A short digest of a configuration, tagged on model versions as ``importance.config``."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in (
        "importance_tasks",
        "tensorflow-cpu",
        "keras",
        "mlflow",
        "scikit-learn",
        "numpy",
        "pandas",
    ):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found


def plan_analysis(
    model: str,
    *,
    tracking_uri: str | None = None,
    data_uri: str | None = None,
    target: str | None = None,
    methods: Sequence[str] = DEFAULT_METHODS,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    seed: int = 0,
    scoring: str = "auto",
    groups: Mapping[str, Sequence[str]] | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    trust_pyfunc: bool = False,
    sanity_check: bool = False,
) -> Plan:
    """Resolve the model and data, check them against each other, open (or find) the run.

    Parameters
    ----------
    model : str
        ``NAME@ALIAS``, ``NAME/VERSION`` or a ``models:/`` URI; an alias is resolved here once.
    tracking_uri : str, optional
        Default: ``MLFLOW_TRACKING_URI``.
    data_uri, target : str, optional
        The evaluation table and its target column; default: what the model's run logged.
    methods, options, seed, scoring, groups
        What to compute; part of the run's identity with the model version and data digest.
    experiment : str, default="importance"
    trust_pyfunc : bool, default=False
        Allow non-Keras (pickled) pyfunc models.
    sanity_check : bool, default=False
        Also run every method on a randomised copy of the model (doubles the cost) and flag
        methods whose ranking does not change (``importance_tasks.sanity``).
    """
    from importance_tasks.mlflow_io.connection import access, connect
    from importance_tasks.mlflow_io.runs import open_run

    config = configuration(methods, options, seed, scoring, groups, sanity_check)
    client = connect(tracking_uri)
    inputs, uri, column = _load(
        client, model, data_uri=data_uri, target=target, trust_pyfunc=trust_pyfunc
    )
    ref, digest = inputs.ref, data_digest(inputs.data)
    identity = json.dumps([ref.name, ref.version, digest, config], sort_keys=True)
    key = hashlib.sha256(identity.encode()).hexdigest()[:32]
    with access(
        f"create or continue the analysis run in experiment {experiment!r}",
        "EDIT (on the experiment)",
    ):
        run_id, complete = open_run(
            client,
            experiment=experiment,
            key=key,
            run_name=f"{ref.name} v{ref.version} importance",
            tags={"importance.model_name": ref.name, "importance.model_version": ref.version},
            params={
                "model_name": ref.name,
                "model_version": ref.version,
                "model_uri": ref.uri,
                "model_flavor": inputs.loaded.flavor,
                "data_uri": uri,
                "data_digest": digest,
                "data_rows": inputs.data.n_rows,
                "target": column,
                "methods": ",".join(config["methods"]),
                "seed": seed,
                "scoring": scoring,
                "feature_names_checked": inputs.loaded.feature_names is not None,
                **{f"settings.{m}": o for m, o in config["options"].items()},
                "package_versions": _versions(),
            },
        )
    return Plan(
        tracking_uri=client.tracking_uri,
        experiment=experiment,
        model_name=ref.name,
        model_version=ref.version,
        model_id=ref.model_id,
        source_run_id=ref.run_id,
        data_uri=uri,
        target=column,
        data_digest=digest,
        n_rows=inputs.data.n_rows,
        methods=tuple(config["methods"]),
        config=config,
        key=key,
        run_id=run_id,
        complete=complete,
        trust_pyfunc=trust_pyfunc,
        alias=ref.alias,
        constant_features=constant_features(inputs.data),
    )


def _client(plan: Plan) -> MlflowClient:
    from importance_tasks.mlflow_io.connection import connect

    return connect(plan.tracking_uri)


def _method_path(method: str, suffix: str = "json") -> str:
    return f"importance/{method}.{suffix}"


def _shardable(plan: Plan, method: str) -> Shardable | None:
    instance = make_method(method, **plan.config["options"][method])
    return instance if isinstance(instance, Shardable) else None


def method_shards(plan: Plan, method: str) -> int:
    """Row shards ``method`` splits this analysis's data into (1: computed in one piece)."""
    instance = _shardable(plan, method)
    return 1 if instance is None else instance.n_shards(plan.n_rows)


def jobs(plan: Plan) -> list[tuple[str, int | None]]:
    """The compute jobs of an analysis: (method, None), or (method, shard) per row shard."""
    out: list[tuple[str, int | None]] = []
    for method in plan.methods:
        count = method_shards(plan, method)
        out.extend([(method, None)] if count == 1 else [(method, k) for k in range(count)])
    return out


def _part_path(method: str, shard: int) -> str:
    return f"importance/parts/{method}/{shard:05d}.json"


def _checked_inputs(client: MlflowClient, plan: Plan) -> _Inputs:
    inputs, _, _ = _load(
        client,
        f"{plan.model_name}/{plan.model_version}",
        data_uri=plan.data_uri,
        target=plan.target,
        trust_pyfunc=plan.trust_pyfunc,
    )
    if data_digest(inputs.data) != plan.data_digest:
        raise DataError(
            f"the data at {plan.data_uri} changed since the analysis was planned "
            f"(digest {plan.data_digest}); start a new analysis"
        )
    return inputs


def compute_method(plan: Plan, method: str, shard: int | None = None) -> dict[str, Any]:
    """Compute one method (or one row shard of it) and log it; skip what is already logged.

    A shard's losses go to ``importance/parts/<method>/<shard>.json``; ``aggregate`` combines
    the parts into the method's result.
    """
    from importance_tasks.mlflow_io import runs

    if method not in plan.methods:
        raise InputError(f"method {method!r} is not in this analysis: {list(plan.methods)}")
    client = _client(plan)
    if plan.complete or runs.read_json_artifact(client, plan.run_id, _method_path(method)):
        return {"method": method, "status": "reused", "run_id": plan.run_id}
    instance = make_method(method, **plan.config["options"][method])
    if shard is not None:
        if not isinstance(instance, Shardable):
            raise InputError(f"method {method!r} does not work in row shards")
        if runs.read_json_artifact(client, plan.run_id, _part_path(method, shard)):
            return {"method": method, "shard": shard, "status": "reused", "run_id": plan.run_id}
        inputs = _checked_inputs(client, plan)
        part = instance.compute_shard(
            inputs.loaded.model, inputs.data, shard=shard, scoring=plan.config["scoring"]
        )
        runs.log_artifacts(
            client,
            plan.run_id,
            {_part_path(method, shard)[len("importance/") :]: json.dumps(part.to_record())},
        )
        return {
            "method": method,
            "shard": shard,
            "status": "done",
            "seconds": round(float(part.meta["seconds"]), 3),
            "run_id": plan.run_id,
        }
    inputs = _checked_inputs(client, plan)
    try:
        result = instance.compute(inputs.loaded.model, inputs.data, scoring=plan.config["scoring"])
    except UnsupportedModelError as exc:
        runs.log_artifacts(
            client, plan.run_id, {f"{method}.skipped.json": json.dumps({"reason": str(exc)})}
        )
        return {"method": method, "status": "skipped", "reason": str(exc), "run_id": plan.run_id}
    if plan.config.get("sanity_check"):
        result = _with_sanity(instance, inputs, result, plan)
    result = mark_not_evaluable(result, plan.constant_features)
    if not _log_result(client, plan, result):
        return {"method": method, "status": "reused", "run_id": plan.run_id}
    top = [result.features[i] for i in np.argsort(result.rank, kind="stable")[:TOP_K]]
    return {
        "method": method,
        "status": "done",
        "seconds": round(result.seconds, 3),
        "top_features": top,
        "run_id": plan.run_id,
    }


def _combine_shards(client: MlflowClient, plan: Plan, method: str) -> None:
    """Combine a sharded method's parts into its result and log it, once all are there."""
    import dataclasses

    from importance_tasks.mlflow_io import runs

    instance = _shardable(plan, method)
    count = 1 if instance is None else instance.n_shards(plan.n_rows)
    if instance is None or count == 1:
        return
    if runs.read_json_artifact(client, plan.run_id, _method_path(method)):
        return
    records = [
        runs.read_json_artifact(client, plan.run_id, _part_path(method, k)) for k in range(count)
    ]
    missing = [k for k, r in enumerate(records) if r is None]
    if missing:
        raise InputError(f"{method}: row shards {missing} of {count} were not computed")
    result = instance.combine([ShardPart.from_record(r) for r in records if r])
    if plan.config.get("sanity_check"):
        verdict = {"skipped": f"not run on {count} row shards"}
        result = dataclasses.replace(result, settings={**result.settings, "sanity": verdict})
    _log_result(client, plan, mark_not_evaluable(result, plan.constant_features))


def _log_result(client: MlflowClient, plan: Plan, result: Importance) -> bool:
    """A method's metrics, table, plot and record (the record last: it marks it logged).

    Logs nothing and returns False when the record is already there: another task (a duplicate
    DAG run of the same analysis) finished this method first, and its result stands. Every
    metric is a function of the result, so two tasks that do log at once write the same values
    at the same step and timestamp, which MLflow keeps once.
    """
    from importance_tasks.mlflow_io import runs
    from importance_tasks.report import bar_chart_png, method_csv

    method = result.method
    if runs.read_json_artifact(client, plan.run_id, _method_path(method)):
        return False
    verdict = result.settings.get("sanity") or {}
    if "spearman" in verdict:
        runs.log_metrics(
            client,
            plan.run_id,
            {
                runs.metric_key("sanity", method, "spearman"): verdict["spearman"],
                runs.metric_key("sanity", method, "passed"): float(verdict["passed"]),
            },
        )
    runs.log_metrics(client, plan.run_id, runs.importance_metrics(result), model_id=plan.model_id)
    runs.log_artifacts(
        client,
        plan.run_id,
        {
            f"{method}.csv": method_csv(result),
            f"plots/{method}.png": bar_chart_png(result),
            f"{method}.json": json.dumps(result.to_record()),
        },
    )
    return True


def _with_sanity(
    method: ImportanceMethod, inputs: _Inputs, result: Importance, plan: Plan
) -> Importance:
    import dataclasses

    from importance_tasks.sanity import sanity_check

    try:
        return sanity_check(
            method,
            inputs.loaded.model,
            inputs.data,
            result,
            scoring=plan.config["scoring"],
            seed=plan.config["seed"],
        )
    except UnsupportedModelError as exc:
        verdict = {"skipped": str(exc)}
        return dataclasses.replace(result, settings={**result.settings, "sanity": verdict})


def _results(client: MlflowClient, plan: Plan) -> list[Importance]:
    from importance_tasks.mlflow_io import runs

    results = []
    for method in plan.methods:
        _combine_shards(client, plan, method)
        record = runs.read_json_artifact(client, plan.run_id, _method_path(method))
        if record is not None:
            results.append(Importance.from_record(record))
    if not results:
        raise InputError(
            f"no method produced a result in run {plan.run_id} (all failed or were skipped)"
        )
    return results


def _previous(client: MlflowClient, plan: Plan) -> tuple[str, dict[str, int]] | None:
    """The closest earlier version with a consensus ranking: (version, feature -> rank)."""
    from importance_tasks.mlflow_io import runs

    versions = [
        v.version
        for v in client.search_model_versions(f"name = '{plan.model_name}'")
        if int(v.version) < int(plan.model_version)
    ]
    older = sorted(versions, key=int, reverse=True)
    found = runs.ranked_run_for(client, plan.model_name, older, experiment=plan.experiment)
    if found is None:
        return None
    version, run_id = found
    previous = runs.read_json_artifact(client, run_id, runs.CONSENSUS)
    return None if previous is None else (version, previous["rank"])


def aggregate(plan: Plan) -> dict[str, Any]:
    """Consensus, agreement and the comparison with the previous version; logged."""
    from importance_tasks.mlflow_io import runs
    from importance_tasks.report import comparison_csv, rank_heatmap_png, rankings_csv

    client = _client(plan)
    results = _results(client, plan)
    combined = consensus(results)
    agreed = agreement(results)
    metrics = {
        runs.metric_key("rank", "consensus", f): float(r)
        for f, r in zip(combined.features, combined.rank, strict=True)
    }
    metrics["agreement/kendall_w"] = agreed.kendall_w
    for pair, rho in agreed.spearman.items():
        metrics[runs.metric_key("agreement", "spearman", *pair.split("~"))] = rho
    runs.log_artifacts(
        client,
        plan.run_id,
        {
            "rankings.csv": rankings_csv(results, combined),
            "plots/rank_heatmap.png": rank_heatmap_png(results, combined),
            "agreement.json": json.dumps(
                {
                    "kendall_w": agreed.kendall_w,
                    "spearman": agreed.spearman,
                    "rank_spread": dict(
                        zip(combined.features, agreed.spread.tolist(), strict=True)
                    ),
                    "disputed": agreed.disputed(combined.features),
                }
            ),
            "consensus.json": json.dumps(
                {
                    "methods": list(combined.methods),
                    **combined.as_dict(),
                    "mean_rank": dict(
                        zip(combined.features, combined.mean_rank.tolist(), strict=True)
                    ),
                }
            ),
        },
    )
    summary: dict[str, Any] = {
        "run_id": plan.run_id,
        "methods": list(combined.methods),
        "top_features": _top(combined.features, combined.rank),
        "kendall_w": None if np.isnan(agreed.kendall_w) else round(agreed.kendall_w, 4),
        "previous_version": None,
    }
    previous = _previous(client, plan)
    if previous is not None:
        version, previous_rank = previous
        comparison = compare(previous_rank, combined.as_dict()["rank"])
        metrics["comparison/spearman"] = comparison.spearman
        metrics["comparison/kendall"] = comparison.kendall
        metrics["comparison/previous_version"] = float(version)
        runs.log_artifacts(
            client,
            plan.run_id,
            {
                "comparison.csv": comparison_csv(comparison),
                "comparison.json": json.dumps(
                    {
                        "previous_version": version,
                        "spearman": comparison.spearman,
                        "kendall": comparison.kendall,
                        "movers": comparison.movers(),
                        "previous_rank": previous_rank,
                    }
                ),
            },
        )
        summary.update(
            previous_version=version,
            spearman=None if np.isnan(comparison.spearman) else round(comparison.spearman, 4),
            movers=comparison.movers(),
        )
    runs.log_metrics(client, plan.run_id, metrics, model_id=plan.model_id)
    return summary


def _top(features: Sequence[str], rank: Any) -> list[str]:
    return [features[i] for i in np.argsort(rank, kind="stable")[:TOP_K]]


def publish(plan: Plan) -> dict[str, Any]:
    """Report, manifest (last) and model version tags; the run is then complete."""
    from importance_tasks.mlflow_io import runs
    from importance_tasks.mlflow_io.connection import access
    from importance_tasks.report import bar_chart_png, rank_heatmap_png, report_html

    client = _client(plan)
    results = _results(client, plan)
    combined = consensus(results)
    top = _top(combined.features, combined.rank)
    if not plan.complete:
        # The comparison aggregate logged, not a second search that could find another version.
        compared = runs.read_json_artifact(client, plan.run_id, "importance/comparison.json")
        context = {
            "model": f"{plan.model_name} version {plan.model_version}"
            + (f" (alias {plan.alias})" if plan.alias else ""),
            "data": plan.data_uri,
            "data digest": plan.data_digest,
            "rows": plan.n_rows,
            "target": plan.target,
            "settings": json.dumps(plan.config, sort_keys=True),
            "run": plan.run_id,
        }
        html = report_html(
            title=f"Feature importance: {plan.model_name} v{plan.model_version}",
            context=context,
            results=results,
            consensus=combined,
            agreement=agreement(results),
            comparison=_logged_comparison(compared, combined),
            charts={
                "ranks by method": rank_heatmap_png(results, combined),
                **{r.method: bar_chart_png(r) for r in results},
            },
        )
        runs.log_artifacts(client, plan.run_id, {"report.html": html})
        artifacts = sorted(a.path for a in _walk_artifacts(client, plan.run_id, "importance"))
        runs.finish_run(
            client,
            plan.run_id,
            {
                "complete": True,
                "key": plan.key,
                "run_id": plan.run_id,
                "model": {
                    "name": plan.model_name,
                    "version": plan.model_version,
                    "model_id": plan.model_id,
                },
                "data": {
                    "uri": plan.data_uri,
                    "digest": plan.data_digest,
                    "rows": plan.n_rows,
                    "target": plan.target,
                },
                "methods": [r.method for r in results],
                "skipped": [m for m in plan.methods if m not in {r.method for r in results}],
                "config": plan.config,
                "artifacts": [*artifacts, runs.MANIFEST],
            },
        )
    with access(
        f"tag version {plan.model_version} of {plan.model_name!r}",
        "EDIT (on the registered model)",
    ):
        runs.set_version_tags(
            client,
            plan.model_name,
            plan.model_version,
            {
                "importance.run_id": plan.run_id,
                "importance.top_features": ",".join(top),
                "importance.status": "complete",
                "importance.config": config_hash(plan.config),
            },
        )
    compared = runs.read_json_artifact(client, plan.run_id, "importance/comparison.json") or {}
    return {
        "run_id": plan.run_id,
        "model_name": plan.model_name,
        "model_version": plan.model_version,
        "top_features": top,
        "status": "complete",
        "previous_version": compared.get("previous_version"),
        "spearman": compared.get("spearman"),
        "movers": compared.get("movers", []),
    }


def _logged_comparison(
    compared: Mapping[str, Any] | None, combined: Consensus
) -> Comparison | None:
    """The comparison that aggregate logged, rebuilt from its ranks (the same computation)."""
    if not compared or "previous_rank" not in compared:
        return None
    return compare(compared["previous_rank"], combined.as_dict()["rank"])


def _walk_artifacts(client: MlflowClient, run_id: str, path: str) -> list[Any]:
    found: list[Any] = []
    for item in client.list_artifacts(run_id, path):
        found.extend(_walk_artifacts(client, run_id, item.path) if item.is_dir else [item])
    return found


def analyze(model: str, **kwargs: Any) -> tuple[Plan, Analysis]:
    """The whole stage in one process: plan, every method, aggregate, publish.

    Takes the arguments of ``plan_analysis``. Returns the plan and the analysis read back from
    the run, so a repeated call on a complete run returns the logged result without computing.
    """
    plan = plan_analysis(model, **kwargs)
    for method in plan.methods:
        compute_method(plan, method)
    if not plan.complete:
        aggregate(plan)
    publish(plan)
    return plan, read_analysis(plan)


def read_logged(tracking_uri: str | None, run_id: str) -> Analysis:
    """The analysis of a complete run, read back from its manifest and method tables."""
    from importance_tasks.mlflow_io import runs
    from importance_tasks.mlflow_io.connection import connect

    client = connect(tracking_uri)
    manifest = runs.read_json_artifact(client, run_id, runs.MANIFEST)
    if manifest is None:
        raise InputError(f"run {run_id} has no manifest: the analysis is not complete")
    results = [
        Importance.from_record(runs.read_json_artifact(client, run_id, _method_path(m)) or {})
        for m in manifest["methods"]
    ]
    return Analysis(
        results={r.method: r for r in results},
        consensus=consensus(results),
        skipped={m: "unsupported for this model" for m in manifest["skipped"]},
    )


def read_analysis(plan: Plan) -> Analysis:
    """The analysis as logged in the plan's run (methods, consensus, skipped methods)."""
    results = _results(_client(plan), plan)
    done = {r.method for r in results}
    skipped = {m: "unsupported for this model" for m in plan.methods if m not in done}
    return Analysis(
        results={r.method: r for r in results}, consensus=consensus(results), skipped=skipped
    )
