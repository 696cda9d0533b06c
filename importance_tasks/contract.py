"""The MLflow contract, spelled once (docs/mlflow-contract.md): every name an analysis, the
registry audit, the monitor and the stage's claims use in MLflow (artifact files, run and
version tags and their parsing, status values, metric families, params, the manifest's keys,
experiments). ``mlflow_io`` builds and reads the values; nothing here talks to MLflow.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "AGREEMENT",
    "ARTIFACT_DIR",
    "AUDIT_EXPERIMENT",
    "AUDIT_PAGE",
    "AUDIT_RUN_NAME",
    "AUDIT_TABLE",
    "BACKEND_PARAM",
    "CLAIM_PREFIX",
    "COMPARISON",
    "COMPARISON_TABLE",
    "CONSENSUS",
    "DEFAULT_EXPERIMENT",
    "DEPENDENCE",
    "EFFECTS_TABLE",
    "EVALUATION_DATASET",
    "INTERACTIONS_TABLE",
    "MANIFEST",
    "MANIFEST_FILE",
    "RANKINGS_TABLE",
    "REPORT",
    "STEPS",
    "AuditStatus",
    "JobStatus",
    "Manifest",
    "ManifestData",
    "ManifestModel",
    "MethodStatus",
    "Metric",
    "Monitor",
    "MonitorStatus",
    "OutputPart",
    "RunTag",
    "VersionStatus",
    "VersionTag",
    "audit_metric",
    "metric_key",
    "output_tag",
    "part_path",
    "plot_path",
    "result_path",
    "run_params",
    "scoped_metrics",
    "scoped_path",
    "skipped_path",
    "table_path",
    "tag_kind",
]

# The default MLflow experiments: the analyses', and the registry audit's.
DEFAULT_EXPERIMENT, AUDIT_EXPERIMENT = "importance", "importance-audit"
# The artifacts of an analysis run.
ARTIFACT_DIR = "importance"
MANIFEST_FILE = "manifest.json"  # written last: the run is complete
MANIFEST = f"{ARTIFACT_DIR}/{MANIFEST_FILE}"
CONSENSUS, AGREEMENT = f"{ARTIFACT_DIR}/consensus.json", f"{ARTIFACT_DIR}/agreement.json"
COMPARISON, COMPARISON_TABLE = f"{ARTIFACT_DIR}/comparison.json", f"{ARTIFACT_DIR}/comparison.csv"
DEPENDENCE = f"{ARTIFACT_DIR}/dependence.json"
RANKINGS_TABLE = f"{ARTIFACT_DIR}/rankings.csv"
REPORT = f"{ARTIFACT_DIR}/report.html"
# The analysis steps on the top features: the record (interactions and effects) and tables.
STEPS = f"{ARTIFACT_DIR}/interactions_effects.json"
INTERACTIONS_TABLE = f"{ARTIFACT_DIR}/interactions.csv"
EFFECTS_TABLE = f"{ARTIFACT_DIR}/effects.csv"
# The name of the evaluation data as a dataset input of the run and on linked metrics.
EVALUATION_DATASET = "evaluation"
BACKEND_PARAM = "keras_backend"  # the run's param: the Keras backend the model ran on
AUDIT_RUN_NAME, AUDIT_TABLE, AUDIT_PAGE = "registry audit", "audit.csv", "audit.html"
# The claims that settle which run an analysis key has: empty artifacts under this prefix.
CLAIM_PREFIX = ".importance-claims/"
_TAG_PREFIX = "importance."
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-. :]")


class MethodStatus(StrEnum):
    """How a method's result stands (``Importance.status``): only complete ones are counted."""

    COMPLETE = "complete"
    INCOMPLETE = "incomplete"  # its time guard ended it before its planned work
    INSUFFICIENT = "insufficient"  # its work was too little for what it reports


class VersionStatus(StrEnum):
    """The ``importance.status`` tag of a model version."""

    COMPLETE = "complete"
    NEEDS_DATA = "needs_data"  # no readable evaluation data, no target, no column names
    UNSUPPORTED = "unsupported"  # a model the methods cannot analyse


class JobStatus(StrEnum):
    """What a compute job did: computed, found logged already, or skipped (with why)."""

    DONE = "done"
    REUSED = "reused"
    SKIPPED = "skipped"


class AuditStatus(StrEnum):
    """A version's row in the registry audit (its metric: ``audit/<status>``, spaces as _)."""

    UP_TO_DATE = "up to date"  # analysed with the settings of record before this audit
    ANALYSED = "analysed"  # analysed by this audit's run
    MISSING = "missing"  # no current analysis, none asked for
    FAILED = "failed"  # asked for by this audit, and still not current


class RunTag:
    """Tags of an analysis run (and of the claims that settle which run a key has)."""

    KEY, MODEL_NAME = "importance.key", "importance.model_name"
    MODEL_VERSION, CLAIMANT = "importance.model_version", "importance.claimant"
    CLAIMED_RUN = "importance.run_id"
    # The registry audit's verdict on computing the run again (``stage.verify``).
    VERIFIED = "importance.verified"


class VersionTag:
    """Tags of a model version (and of its LoggedModel); ``importance.status`` holds a
    ``VersionStatus``, set last."""

    RUN_ID, CONFIG = "importance.run_id", "importance.config"
    TOP_FEATURES, TOP_RANKS = "importance.top_features", "importance.top_ranks"
    DRIFT, DIRECTIONS = "importance.drift", "importance.directions"
    STATUS, REASON = "importance.status", "importance.reason"
    PROMOTION, PROMOTION_REASONS = "importance.promotion", "importance.promotion_reasons"
    # Tags set per output of a model with several (``output_tag``).
    PER_OUTPUT = (TOP_FEATURES, TOP_RANKS, DRIFT, DIRECTIONS)


class Metric:
    """Metric families (``<family>/<method or consensus>/<feature>``), and run-wide names."""

    IMPORTANCE, IMPORTANCE_STD = "importance", "importance_std"
    RANK, RANK_LOW, RANK_HIGH = "rank", "rank_low", "rank_high"
    P_TOP, CONSENSUS, SANITY = "p_top", "consensus", "sanity"
    INTERACTION, INTERACTION_H2 = "interaction", "interaction_h2"
    INTERACTION_TOTAL_H2 = "interaction_total_h2"
    AGREEMENT, KENDALL_W = "agreement", "agreement/kendall_w"
    COMPARISON, AUDIT, AUDIT_VERSIONS = "comparison", "audit", "audit/versions"


class MonitorStatus(StrEnum):
    """The ``importance.monitor.status`` tag: the last window's verdict."""

    OK = "ok"
    DRIFT = "drift"


class Monitor:
    """The monitoring of a deployed version (the ``importance_monitor`` DAG): its experiment,
    its run's tags and artifacts, the metric family (``monitor/<feature>``, stepped by the
    window's day) and the version's tags, none of which an analysis sets or reads."""

    EXPERIMENT, DIR, METRIC = "importance-monitor", "monitor", "monitor"
    BASELINE, REPORT = "monitor/baseline.json", "monitor/report.html"
    NDCG = "ndcg"  # monitor/ndcg: the window's nDCG@k against the baseline
    TAG_PREFIX = "importance.monitor."
    RUN_KEY, RUN_MODEL = "importance.monitor.key", "importance.monitor.model"
    RUN_VERSION = "importance.monitor.version"
    STATUS, DRIFTED = "importance.monitor.status", "importance.monitor.drifted"
    WINDOW, RUN_ID = "importance.monitor.window", "importance.monitor.run_id"

    @staticmethod
    def window_path(ds: str) -> str:  # a window's record, by its date YYYY-MM-DD
        return f"monitor/{ds}.json"


def tag_kind(key: str) -> tuple[str | None, str] | None:
    """A version tag key read back: ``(output, kind)`` for ``importance.<output>.<kind>``,
    ``(None, kind)`` for ``importance.<kind>``; None for a key that is not ours."""
    if not key.startswith(_TAG_PREFIX) or key.startswith(Monitor.TAG_PREFIX):
        return None
    middle, _, kind = key.removeprefix(_TAG_PREFIX).rpartition(".")
    return (middle or None, kind)


def result_path(method: str) -> str:
    return f"{ARTIFACT_DIR}/{method}.json"


def table_path(method: str) -> str:
    return f"{ARTIFACT_DIR}/{method}.csv"


def part_path(method: str, shard: int, *, randomized: bool = False) -> str:
    kind = "randomized/" if randomized else ""
    return f"{ARTIFACT_DIR}/parts/{method}/{kind}{shard:05d}.json"


def skipped_path(method: str, *, randomized: bool = False) -> str:
    """Why a method (``randomized``: its sanity check's shards) has no result."""
    if randomized:
        return f"{ARTIFACT_DIR}/parts/{method}/randomized.skipped.json"
    return f"{ARTIFACT_DIR}/{method}.skipped.json"


def plot_path(name: str) -> str:  # a method's chart, or one of the run (``rank_heatmap``)
    return f"{ARTIFACT_DIR}/plots/{name}.png"


def scoped_path(path: str, output: str | None) -> str:
    """An artifact of one output of several: ``importance/<output>/...`` (None: as it is)."""
    if output is None:
        return path
    return f"{ARTIFACT_DIR}/{_part(output)}/{path.removeprefix(ARTIFACT_DIR + '/')}"


def scoped_metrics(metrics: Mapping[str, float], output: str | None) -> dict[str, float]:
    """Metrics of one output of several: the output after the first part of each name
    (``importance/<output>/<method>/<feature>``, ``agreement/<output>/kendall_w``)."""
    if output is None:
        return dict(metrics)
    scoped = {}
    for key, value in metrics.items():
        kind, _, rest = key.partition("/")
        scoped[f"{kind}/{_part(output)}/{rest}"] = value
    return scoped


def output_tag(tag: str, output: str | None) -> str:
    """A version tag of one output of several: ``importance.<output>.top_features``."""
    if output is None:
        return tag
    prefix, _, name = tag.rpartition(".")
    return f"{prefix}.{_part(output)}.{name}"


def _part(name: str) -> str:
    return _UNSAFE.sub("_", name).replace("/", "_")


def metric_key(*parts: str) -> str:
    """A metric name from parts; characters MLflow refuses, and ``/`` in a part, become ``_``."""
    return "/".join(_UNSAFE.sub("_", part) for part in parts)


def audit_metric(status: AuditStatus) -> str:
    """The audit run's count of versions in ``status`` (``audit/up_to_date``)."""
    return metric_key(Metric.AUDIT, status.replace(" ", "_"))


def run_params(
    *,
    model: Mapping[str, str],
    data: Mapping[str, Any],
    identity: Mapping[str, Any],
    scoring: str | Mapping[str, str],
    package_versions: Mapping[str, str],
) -> dict[str, Any]:
    """The params of an analysis run: the model (``name``, ``version``, ``uri``, ``flavor``,
    ``backend``: Keras' backend or ""), the data (``uri``, ``source``, ``digest``, ``rows``,
    ``target``, ``target_source``, ``names_checked``, ``names_source``), the identity."""
    return {
        "model_name": model["name"],
        "model_version": model["version"],
        "model_uri": model["uri"],
        "model_flavor": model["flavor"],
        BACKEND_PARAM: model["backend"],
        "data_uri": data["uri"],
        "data_source": data["source"],
        "data_digest": data["digest"],
        "data_rows": data["rows"],
        "target": data["target"],
        "target_source": data["target_source"],
        "methods": ",".join(identity["methods"]),
        "seed": identity["seed"],
        "scoring": scoring if isinstance(scoring, str) else json.dumps(dict(scoring)),
        "feature_names_checked": data["names_checked"],
        "feature_names_source": data["names_source"] or "the table's order",
        **{f"settings.{m}": o for m, o in identity["options"].items()},
        "package_versions": package_versions,
    }


@dataclass(frozen=True)
class ManifestModel:
    """The analysed version: name, version, LoggedModel."""

    name: str
    version: str
    model_id: str | None = None


@dataclass(frozen=True)
class ManifestData:
    """The evaluation data: where, digest, rows, target(s), column types, unseen values."""

    uri: str | None
    digest: str
    rows: int
    target: str
    targets: tuple[str, ...] = ()
    column_types: Mapping[str, str] = field(default_factory=dict)
    unseen: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OutputPart:
    """One output's part: its target, the methods with a result, why each other has none."""

    target: str | None
    methods: tuple[str, ...]
    skip_reasons: Mapping[str, str]

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> OutputPart:
        reasons = dict(record.get("skip_reasons") or {})  # manifests before 0.2 list no reasons
        for method in record.get("skipped") or []:
            reasons.setdefault(method, "unsupported for this model")
        return cls(record.get("target"), tuple(record["methods"]), reasons)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "methods": list(self.methods),
            "skipped": list(self.skip_reasons),
            "skip_reasons": dict(self.skip_reasons),
        }


@dataclass(frozen=True)
class Manifest:
    """``manifest.json``, written last: what a complete analysis run holds. ``settings``:
    every setting the analysis ran with (``AnalysisConfig.to_settings``), what ``verify``
    computes it again from (None in runs logged before they were recorded); ``outputs``: each
    output's part, for a model with several (``methods`` and ``skip_reasons`` then list what
    any output has)."""

    key: str
    run_id: str
    model: ManifestModel
    data: ManifestData
    methods: tuple[str, ...]
    skip_reasons: Mapping[str, str]
    config: Mapping[str, Any]
    settings: Mapping[str, Any] | None
    artifacts: tuple[str, ...]
    outputs: Mapping[str, OutputPart] = field(default_factory=dict)

    def part(self, output: str | None) -> OutputPart:
        """The part of ``output`` (None: the run's one output)."""
        if output is None:
            return OutputPart(self.data.target, self.methods, self.skip_reasons)
        return self.outputs[output]

    def to_dict(self) -> dict[str, Any]:
        found = {"outputs": {k: v.to_dict() for k, v in self.outputs.items()}}
        return {
            **(found if self.outputs else {}),
            "complete": True,
            "key": self.key,
            "run_id": self.run_id,
            "model": {k: getattr(self.model, k) for k in ("name", "version", "model_id")},
            "data": {**asdict(self.data), "targets": list(self.data.targets)},
            **OutputPart(None, self.methods, self.skip_reasons).to_dict(),
            "config": dict(self.config),
            "settings": None if self.settings is None else dict(self.settings),
            "artifacts": [*self.artifacts, MANIFEST],
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Manifest:
        data, model = record["data"], record["model"]
        whole = OutputPart.from_dict(record)
        return cls(
            key=record["key"],
            run_id=record["run_id"],
            model=ManifestModel(str(model["name"]), str(model["version"]), model.get("model_id")),
            data=ManifestData(
                uri=data.get("uri"),
                digest=data["digest"],
                rows=int(data["rows"]),
                target=data["target"],
                targets=tuple(data.get("targets") or ()),
                column_types=data.get("column_types", {}),  # absent before 0.3
                unseen=data.get("unseen", {}),  # absent before 0.3
            ),
            methods=whole.methods,
            skip_reasons=whole.skip_reasons,
            config=record.get("config", {}),
            settings=record.get("settings"),
            artifacts=tuple(a for a in record.get("artifacts", ()) if a != MANIFEST),
            outputs={k: OutputPart.from_dict(v) for k, v in (record.get("outputs") or {}).items()},
        )
