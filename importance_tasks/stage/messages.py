"""The messages between the stage's steps and tasks, typed: what is asked (``Request``), what
a compute job did (``JobSummary``), what ``aggregate`` and ``publish`` report
(``AggregateSummary`` per output, ``Aggregation``, ``PublishSummary``). Each is built in one
place and crosses XCom as a plain dict (``to_dict``/``from_dict``), like ``Plan`` and ``Job``:
Airflow 3 deserialises only the classes it allows, so a task converts at its edge."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from importance_tasks.contract import JobStatus, VersionStatus
from importance_tasks.errors import InputError
from importance_tasks.mlflow_io.model_ref import ModelSpec
from importance_tasks.ranking.comparison import Comparison
from importance_tasks.ranking.ranks import Agreement, Consensus
from importance_tasks.stage.jobs import Job
from importance_tasks.stage.packing import ComputeTask
from importance_tasks.stage.plan import Plan

__all__ = [
    "AggregateSummary",
    "AggregatedPlan",
    "Aggregation",
    "ComputedTask",
    "JobSummary",
    "PackedTask",
    "PublishSummary",
    "Request",
]


@dataclass(frozen=True)
class Request:
    """One analysis asked of the stage: which model version, and settings or inputs
    (``data_uri``, ``target``, ``experiment``) of its own, which win over the stage's."""

    model: ModelSpec
    settings: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of_version(cls, name: str, version: str | int) -> Request:
        return cls(ModelSpec(name=name, version=str(version)))

    def to_dict(self) -> dict[str, Any]:
        spec = self.model
        model = {"name": spec.name, "alias": spec.alias, "version": spec.version}
        return {"model": model, **self.settings}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Request:
        """From ``{"model": {"name": ..., "alias" or "version": ...}, ...settings}``."""
        settings = {k: v for k, v in data.items() if k != "model" and v is not None}
        return cls(ModelSpec(**data["model"]), settings)


@dataclass(frozen=True)
class JobSummary:
    """What one compute job did: computed (``seconds``; a method's ``top_features``, the
    steps' ``ranked_by``), found logged already (a retry), or skipped with the reason."""

    job: Job
    run_id: str
    status: JobStatus
    reason: str = ""
    seconds: float | None = None
    top_features: tuple[str, ...] = ()
    ranked_by: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.job.to_dict(), "run_id": self.run_id, "status": str(self.status),
            "reason": self.reason, "seconds": self.seconds,
            "top_features": list(self.top_features), "ranked_by": list(self.ranked_by),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobSummary:
        return cls(
            job=Job.from_dict(data),
            run_id=data["run_id"],
            status=JobStatus(data["status"]),
            reason=data.get("reason", ""),
            seconds=data.get("seconds"),
            top_features=tuple(data.get("top_features", ())),
            ranked_by=tuple(data.get("ranked_by", ())),
        )


@dataclass(frozen=True)
class PackedTask:
    """One compute task as ``plan`` lists them: its version's plan and its packed jobs."""

    plan: Plan
    task: ComputeTask

    def to_dict(self) -> dict[str, Any]:
        return {"plan": self.plan.to_dict(), **self.task.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PackedTask:
        return cls(Plan.from_dict(data["plan"]), ComputeTask.from_dict(data))


@dataclass(frozen=True)
class ComputedTask:
    """What a compute task did: its estimate, and each of its jobs' summary."""

    estimated_s: float
    jobs: tuple[JobSummary, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"estimated_s": self.estimated_s, "jobs": [j.to_dict() for j in self.jobs]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ComputedTask:
        return cls(float(data["estimated_s"]), tuple(map(JobSummary.from_dict, data["jobs"])))


def _least(values: Any) -> float | None:
    found = [v for v in values if v is not None]
    return min(found) if found else None


def _output_fields(summary: PublishSummary) -> dict[str, Any]:
    keep = ("top_features", "previous_version", "ndcg", "drift", "drifted", "sanity", "excluded")
    return {key: getattr(summary, key) for key in keep}


def _number(value: float) -> float | None:
    return None if np.isnan(value) else round(float(value), 4)


@dataclass(frozen=True)
class AggregateSummary:
    """What ``aggregate`` found: the consensus's methods and top, the agreement, and the
    comparison with the previous analysed version (None without one)."""

    run_id: str
    methods: list[str]
    top_features: list[str]
    excluded: dict[str, str]
    kendall_w: float | None
    previous_version: str | None = None
    spearman: float | None = None
    ndcg: float | None = None
    drifted: bool | None = None
    movers: list[Any] = field(default_factory=list)

    @classmethod
    def of(
        cls,
        run_id: str,
        *,
        consensus: Consensus,
        top_features: list[str],
        agreement: Agreement,
        comparison: tuple[str, Comparison] | None,
    ) -> AggregateSummary:
        version, compared = comparison if comparison is not None else (None, None)
        return cls(
            run_id=run_id,
            methods=list(consensus.methods),
            top_features=top_features,
            excluded=dict(consensus.excluded),
            kendall_w=_number(agreement.kendall_w),
            previous_version=version,
            spearman=None if compared is None else _number(compared.spearman),
            ndcg=None if compared is None else _number(compared.ndcg),
            drifted=None if compared is None else compared.drifted,
            movers=[] if compared is None else compared.movers(),
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AggregateSummary:
        return cls(**data)


@dataclass(frozen=True)
class Aggregation:
    """What ``aggregate`` found for each output (the key None: the analysis's one output).
    As a dict: the one output's summary, or ``{"outputs": {output: summary}}``."""

    by_output: Mapping[str | None, AggregateSummary]

    def to_dict(self) -> dict[str, Any]:
        if None in self.by_output:
            return self.by_output[None].to_dict()
        return {"outputs": {str(k): v.to_dict() for k, v in self.by_output.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Aggregation:
        if "outputs" in data:
            return cls({k: AggregateSummary.from_dict(v) for k, v in data["outputs"].items()})
        return cls({None: AggregateSummary.from_dict(data)})


@dataclass(frozen=True)
class AggregatedPlan:
    """A version's plan with what ``aggregate`` found: what each publish task is given."""

    plan: Plan
    aggregation: Aggregation

    def to_dict(self) -> dict[str, Any]:
        return {"plan": self.plan.to_dict(), "summary": self.aggregation.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AggregatedPlan:
        return cls(Plan.from_dict(data["plan"]), Aggregation.from_dict(data["summary"]))


@dataclass(frozen=True)
class PublishSummary:
    """One published analysis: the version, its top features, drift and sanity verdicts; the
    return value of ``publish`` and, as ``event()``, the ``extra`` of the version's event on
    the results Asset (what a promotion gate reads)."""

    # What an analysis event carries: small, ids, names and verdicts.
    EVENT_FIELDS = (
        "model_name", "model_version", "run_id", "status", "top_features", "previous_version",
        "ndcg", "drift", "drifted", "sanity", "excluded", "tagged", "outputs",
    )  # fmt: skip

    run_id: str
    model_name: str
    model_version: str
    top_features: list[str]
    tagged: bool
    excluded: dict[str, str]
    sanity: dict[str, bool]
    status: str = VersionStatus.COMPLETE
    previous_version: str | None = None
    spearman: float | None = None
    ndcg: float | None = None
    drift: str | None = None
    drifted: bool | None = None
    movers: list[Any] = field(default_factory=list)
    # An analysis of several outputs: each output's summary (its top features, drift,
    # sanity, ...); the fields above then hold every output's, prefixed ``<output>/``.
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def of_outputs(cls, found: Mapping[str, PublishSummary], *, tagged: bool) -> PublishSummary:
        """The summary of an analysis of several outputs: drifted when any output drifted,
        the least nDCG and Spearman, every output's sanity verdicts, exclusions and top
        features under ``<output>/``; each output's own summary in ``outputs``."""
        first = next(iter(found.values()))
        drifted = [s.drifted for s in found.values() if s.drifted is not None]
        return cls(
            run_id=first.run_id,
            model_name=first.model_name,
            model_version=first.model_version,
            tagged=tagged,
            top_features=[f"{k}/{f}" for k, s in found.items() for f in s.top_features],
            excluded={f"{k}/{m}": why for k, s in found.items() for m, why in s.excluded.items()},
            sanity={f"{k}/{m}": ok for k, s in found.items() for m, ok in s.sanity.items()},
            previous_version=next(
                (s.previous_version for s in found.values() if s.previous_version), None
            ),
            spearman=_least(s.spearman for s in found.values()),
            ndcg=_least(s.ndcg for s in found.values()),
            drift="; ".join(f"{k}: {s.drift}" for k, s in found.items() if s.drift) or None,
            drifted=any(drifted) if drifted else None,
            movers=[[f"{k}/{f}", m] for k, s in found.items() for f, m in s.movers],
            outputs={k: _output_fields(s) for k, s in found.items()},
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PublishSummary:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def from_event(cls, extra: Mapping[str, Any]) -> PublishSummary:
        """The summary in an event's ``extra`` (``event()``); an event posted by other means
        may leave out all but the version: no top features, exclusions or sanity verdicts,
        and of record unless ``tagged`` is false.

        Raises
        ------
        InputError
            When the event does not name an analysed model version.
        """
        if not extra.get("model_name") or not extra.get("model_version"):
            raise InputError(f"the analysis event names no analysed model version: {dict(extra)!r}")
        absent: dict[str, Any] = {
            "run_id": None, "top_features": [], "excluded": {}, "sanity": {}, "tagged": True,
        }  # fmt: skip
        return cls.from_dict({**absent, **extra})

    def event(self) -> dict[str, Any]:
        """The ``extra`` of this version's event on the results Asset."""
        found = self.to_dict()
        return {key: found[key] for key in self.EVENT_FIELDS}
