"""Plan: pin the model version, load and check the data, open (or find) the analysis run.

A ``Plan`` is what every later step needs, small enough for XCom: the pinned model (a
structured reference, never a string to parse again), the data's URI and digest, the
configuration's settings and the run. ``jobs`` lists the compute jobs it needs.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from importance_tasks import contract
from importance_tasks.analysis import prepare
from importance_tasks.config import AnalysisConfig
from importance_tasks.contract import DEFAULT_EXPERIMENT, VersionStatus
from importance_tasks.errors import DataError, InputError, unanalysable_status
from importance_tasks.evaluable import constant_features
from importance_tasks.mlflow_io.analysis_run import AnalysisRun
from importance_tasks.mlflow_io.client import access, connect, package_versions
from importance_tasks.mlflow_io.model_ref import ModelRef, ModelSpec
from importance_tasks.mlflow_io.registry import resolve_model
from importance_tasks.mlflow_io.version_tags import mark_unanalysable
from importance_tasks.model import Model
from importance_tasks.stage.inputs import Inputs, data_digest, load_inputs, own_data_digest

__all__ = [
    "Plan",
    "checked_inputs",
    "forward_rows_per_s",
    "plan",
]


@dataclass(frozen=True)
class Plan:
    """One analysis, pinned."""

    tracking_uri: str
    experiment: str
    experiment_id: str
    model: ModelRef
    data_uri: str
    target: str
    data_digest: str
    n_rows: int
    settings: Mapping[str, Any]
    key: str
    run_id: str
    complete: bool = False
    trust_pyfunc: bool = False
    constant_features: tuple[str, ...] = ()
    column_types: Mapping[str, str] = dataclasses.field(default_factory=dict)
    forward_rows_per_s: float = 0.0
    # The digest of the configuration as asked, before the model's input groups and the data's
    # clusters were added: what the version tag records, so that a registry audit with the same
    # settings finds the version up to date.
    requested_digest: str = ""
    # Where the data and its target came from, and whether the columns were checked by name.
    data_source: str = ""
    target_source: str = ""
    feature_names_checked: bool = False
    # Whether publish sets the version's importance.* tags: this is its analysis of record;
    # when it is not only because of the data, why.
    tag_version: bool = True
    untagged: str = ""
    # The target columns, and with several outputs analysed each output's key (in the same
    # order; ``keras.heads.Head``); no outputs: an analysis of one output.
    targets: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    # A sequence model's window length (0 for other models): what packing estimates its
    # profile per step by.
    window_steps: int = 0
    # Per column, the rows whose value the model's lookup layers have no entry for.
    unseen: Mapping[str, int] = dataclasses.field(default_factory=dict)
    # The Keras backend the model runs on ("" for a pyfunc model): recorded, not part of the
    # analysis's identity (the numbers agree across backends within float32 rounding).
    backend: str = ""

    def provenance(self) -> dict[str, Any]:
        """Where the data, target and column names came from (the CLI prints these)."""
        return {
            "data_source": self.data_source,
            "target_source": self.target_source,
            "feature_names_checked": self.feature_names_checked,
        }

    @functools.cached_property
    def config(self) -> AnalysisConfig:
        """The configuration, validated again from the settings the plan carries."""
        return AnalysisConfig.from_settings(self.settings)

    @property
    def label(self) -> str:
        return f"{self.model.name} v{self.model.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            **{f.name: getattr(self, f.name) for f in dataclasses.fields(self)},
            "model": self.model.to_dict(),
            "settings": dict(self.settings),
            "constant_features": list(self.constant_features),
            "column_types": dict(self.column_types),
            "targets": list(self.targets),
            "outputs": list(self.outputs),
            "unseen": dict(self.unseen),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        return cls(
            **{
                **data,
                "model": ModelRef.from_dict(data["model"]),
                "constant_features": tuple(data.get("constant_features", ())),
                "targets": tuple(data.get("targets", ())),
                "outputs": tuple(data.get("outputs", ())),
            }
        )


def plan(
    model: ModelSpec | str,
    config: AnalysisConfig,
    *,
    tracking_uri: str | None = None,
    data_uri: str | None = None,
    target: str | Sequence[str] | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    trust_pyfunc: bool = False,
    tag_version: bool = True,
) -> Plan:
    """Resolve the model and data, check them against each other and the configuration's
    scoring, then open (or find) the run. Everything that can be refused is refused before the
    run is opened.

    Parameters
    ----------
    model : ModelSpec or str
        ``NAME@ALIAS``, ``NAME/VERSION`` or a ``models:/`` URI; an alias is resolved here once.
    config : AnalysisConfig
        What to compute; part of the run's identity with the model version and data digest.
    tracking_uri : str, optional
        Default: ``MLFLOW_TRACKING_URI``.
    data_uri : str, optional
        The evaluation table; default: what the model's run logged.
    target : str or sequence of str, optional
        Its target column, or one per output analysed of a model with several (matched by
        the outputs' names, else by order); default: what the model's run logged.
    experiment : str, default="importance"
    trust_pyfunc : bool, default=False
        Allow non-Keras (pickled) pyfunc models.
    tag_version : bool, default=True
        Whether ``publish`` tags the model version with this analysis (its analysis of
        record); the run is logged either way. When the version's run logged its evaluation
        data, a table given as ``data_uri`` with another digest is ad hoc: it tags only when
        ``config.tag_version`` asks.
    """

    client = connect(tracking_uri)
    inputs = _loaded(
        client, model, config, data_uri=data_uri, target=target, trust_pyfunc=trust_pyfunc,
        tag_refusal=tag_version,
    )  # fmt: skip
    inputs.check_scoring(config)
    digest = data_digest(inputs.source.data)  # every target column
    tag_version, untagged = _of_record(client, inputs, digest, data_uri, config, tag_version)
    requested_digest = config.digest()
    prepared = prepare(inputs.model, inputs.data, config)
    config = prepared.config
    key = _analysis_key(inputs.ref, digest, config)
    run, complete = _opened_run(client, experiment, key, inputs, digest, config)
    if not complete:
        run.log_dataset(digest=digest, uri=inputs.data_uri)
        run.log_dependence(prepared.dependence)
    ref = inputs.ref
    return Plan(
        tracking_uri=client.tracking_uri,
        experiment=experiment,
        experiment_id=run.experiment_id,
        model=ref,
        data_uri=inputs.data_uri,
        target=inputs.target,
        data_digest=digest,
        n_rows=inputs.data.n_rows,
        settings=config.to_settings(),
        key=key,
        run_id=run.run_id,
        complete=complete,
        trust_pyfunc=trust_pyfunc,
        constant_features=constant_features(inputs.data),
        column_types=inputs.data.described_types(),
        forward_rows_per_s=forward_rows_per_s(inputs.model, inputs.data.X),
        requested_digest=requested_digest,
        data_source=inputs.source.data_source,
        target_source=inputs.source.target_source,
        feature_names_checked=inputs.source.names_checked,
        tag_version=tag_version,
        untagged=untagged,
        targets=inputs.source.targets,
        outputs=tuple(inputs.outputs),
        window_steps=getattr(inputs.model, "window_steps", 0),
        unseen=prepared.unseen,
        backend=getattr(inputs.model, "backend", ""),
    )


def _loaded(
    client: Any,
    model: ModelSpec | str,
    config: AnalysisConfig,
    *,
    data_uri: str | None,
    target: str | Sequence[str] | None,
    trust_pyfunc: bool,
    tag_refusal: bool,
) -> Inputs:
    """The version pinned, its model and data loaded and checked against each other; a
    version refused for its own state (what its owner logged, not a wrong ``data_uri``) is
    tagged ``needs_data`` or ``unsupported`` when ``tag_refusal``."""
    with access(f"read the registered model {str(model)!r}", "READ (on the registered model)"):
        pinned = resolve_model(client, model)
    try:
        return load_inputs(
            client, pinned, data_uri=data_uri, target=target, trust_pyfunc=trust_pyfunc,
            feature_names=config.feature_names,
            columns_in_model_order=config.columns_in_model_order, windowing=config.windowing,
        )  # fmt: skip
    except InputError as exc:
        status = unanalysable_status(exc)
        if status and tag_refusal and not (data_uri and status == VersionStatus.NEEDS_DATA):
            mark_unanalysable(
                client, pinned.name, pinned.version, pinned.model_id, status=status,
                reason=str(exc),
            )  # fmt: skip
        raise


def _of_record(
    client: Any,
    inputs: Inputs,
    digest: str,
    data_uri: str | None,
    config: AnalysisConfig,
    tag_version: bool,
) -> tuple[bool, str]:
    """Whether the analysis tags the version, and why not when a table given as ``data_uri``
    is not the evaluation data the version logged (ad hoc, not of record)."""
    if not (tag_version and data_uri and not config.tag_version):
        return tag_version, ""
    own = own_data_digest(client, inputs)
    if own is None or own == digest:
        return tag_version, ""
    return False, (
        f"the data given (digest {digest}) is not the evaluation data the version logged "
        f"(digest {own})"
    )


def _analysis_key(ref: ModelRef, digest: str, config: AnalysisConfig) -> str:
    """What an analysis is: the version, the data's digest and the configuration's identity."""
    text = json.dumps([ref.name, ref.version, digest, config.identity()], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _opened_run(
    client: Any,
    experiment: str,
    key: str,
    inputs: Inputs,
    digest: str,
    config: AnalysisConfig,
) -> tuple[AnalysisRun, bool]:
    """The analysis run of ``key``, opened or found (and whether it is complete)."""
    ref, source = inputs.ref, inputs.source
    params = contract.run_params(
        model={"name": ref.name, "version": ref.version, "uri": ref.uri,
               "flavor": inputs.loaded.flavor,
               "backend": getattr(inputs.model, "backend", "")},
        data={"uri": inputs.data_uri, "source": source.data_source, "digest": digest,
              "rows": inputs.data.n_rows, "target": inputs.target,
              "target_source": source.target_source, "names_checked": source.names_checked,
              "names_source": source.names_source},
        identity=config.identity(),
        scoring=config.scoring,
        package_versions=package_versions(),
    )  # fmt: skip
    with access(
        f"create or continue the analysis run in experiment {experiment!r}",
        "EDIT (on the experiment)",
    ):
        return AnalysisRun.open(
            client, experiment=experiment, key=key, model_name=ref.name,
            model_version=ref.version, params=params,
        )  # fmt: skip


def forward_rows_per_s(model: Model, X: NDArray[np.float32]) -> float:
    """The model's forward throughput on (up to 16,384 copies of) the data's rows, after one
    untimed call (tracing): what a job's cost is estimated from (``stage.packing``)."""
    rows = np.ascontiguousarray(X[:4096], dtype=np.float32)
    if not len(rows):
        return 0.0
    model.predict(rows[:64])
    batch = np.tile(rows, (max(1, 16_384 // len(rows)), 1))
    start = time.perf_counter()
    model.predict(batch)
    return round(len(batch) / max(time.perf_counter() - start, 1e-9), 1)


def checked_inputs(plan: Plan) -> Inputs:
    """The plan's model and data, loaded again in a later task; the data must not have
    changed since the plan was made."""

    inputs = load_inputs(
        connect(plan.tracking_uri),
        plan.model,
        data_uri=plan.data_uri,
        target=list(plan.targets) or plan.target,
        trust_pyfunc=plan.trust_pyfunc,
        feature_names=plan.config.feature_names,
        columns_in_model_order=plan.config.columns_in_model_order,
        windowing=plan.config.windowing,
    )
    if data_digest(inputs.source.data) != plan.data_digest:
        raise DataError(
            f"the data at {plan.data_uri} changed since the analysis was planned "
            f"(digest {plan.data_digest}); start a new analysis"
        )
    return inputs
