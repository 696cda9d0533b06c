"""The logged analysis: one MLflow run, read and written by the names of ``contract``.

``AnalysisRun`` is keyed by a run id: it writes what the stage computed and rendered (results,
tables, the report, the manifest last, the version tags) and reads it back, and finds the
previous analysed version. It renders nothing; the names and values come from ``contract``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from importance_tasks import contract
from importance_tasks.contract import ARTIFACT_DIR, RunTag, VersionStatus, VersionTag
from importance_tasks.dependence import Dependence
from importance_tasks.effects.steps import InteractionsAndEffects
from importance_tasks.mlflow_io import logged_values, runs
from importance_tasks.mlflow_io.version_tags import VersionTags, set_version_tag, stale_tags
from importance_tasks.ranking.comparison import Comparison
from importance_tasks.ranking.ranks import Agreement, Consensus
from importance_tasks.result import Importance

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["Aggregated", "AnalysisRun"]


@dataclass(frozen=True)
class Aggregated:
    """What ``aggregate`` logged: each method's result, the consensus, the agreement, the
    comparison with the previous version, the dependence ``plan`` logged, and the
    interactions and effects (None where not logged)."""

    results: list[Importance]
    consensus: Consensus | None
    agreement: Agreement | None
    comparison: tuple[str, Comparison] | None
    dependence: Dependence | None
    steps: InteractionsAndEffects | None = None


_AGGREGATED = (contract.CONSENSUS, contract.AGREEMENT, contract.COMPARISON, contract.STEPS)


class AnalysisRun:
    """The MLflow run of one analysis (model version, data digest, configuration).

    With ``output``, one output's part of an analysis of several outputs: its results,
    consensus, tables and charts under ``importance/<output>/``, its metrics named
    ``<kind>/<output>/...`` (``contract.scoped_path``, ``contract.scoped_metrics``); the
    dependence, report and manifest are the run's.
    """

    def __init__(self, client: MlflowClient, run_id: str, output: str | None = None) -> None:
        self.client = client
        self.run_id = run_id
        self.output = output

    def of_output(self, output: str | None) -> AnalysisRun:
        """The same run, scoped to ``output``."""
        scoped = AnalysisRun(self.client, self.run_id, output)
        if "_info" in self.__dict__:
            scoped.__dict__["_info"] = self._info
        return scoped

    def _p(self, path: str) -> str:
        return contract.scoped_path(path, self.output)

    def _log_metrics(self, metrics: Mapping[str, float], **linked: Any) -> None:
        runs.log_metrics(
            self.client, self.run_id, contract.scoped_metrics(metrics, self.output), **linked
        )

    @classmethod
    def open(
        cls,
        client: MlflowClient,
        *,
        experiment: str,
        key: str,
        model_name: str,
        model_version: str,
        params: Mapping[str, Any],
    ) -> tuple[AnalysisRun, bool]:
        """The run of analysis ``key``, found again or created; and whether it is complete."""
        run_id, complete = runs.open_run(
            client,
            experiment=experiment,
            key=key,
            run_name=f"{model_name} v{model_version} importance",
            tags={RunTag.MODEL_NAME: model_name, RunTag.MODEL_VERSION: model_version},
            params=params,
        )
        return cls(client, run_id), complete

    @functools.cached_property
    def _info(self) -> Any:
        return self.client.get_run(self.run_id).info

    @property
    def experiment_id(self) -> str:
        return str(self._info.experiment_id)

    def artifact_uri(self, path: str) -> str:
        return f"{self._info.artifact_uri}/{path}"

    # -- one method's result, its row-shard parts, or why it was skipped ------------------

    def _read(self, path: str) -> Any | None:
        return runs.read_json_artifact(self.client, self.run_id, path)

    def _write(self, files: Mapping[str, str | bytes]) -> None:
        prefix = f"{ARTIFACT_DIR}/"
        runs.log_artifacts(
            self.client, self.run_id, {p.removeprefix(prefix): c for p, c in files.items()}
        )

    def result(self, method: str) -> Importance | None:
        record = self._read(self._p(contract.result_path(method)))
        return None if record is None else Importance.from_record(record)

    def results(self, methods: Iterable[str]) -> list[Importance]:
        """The logged results of ``methods``, in that order (methods without one left out),
        downloaded side by side."""
        paths = [self._p(contract.result_path(m)) for m in methods]
        records = runs.read_json_artifacts(self.client, self.run_id, paths)
        return [Importance.from_record(r) for r in (records[p] for p in paths) if r is not None]

    def has_result(self, method: str) -> bool:
        return runs.has_artifact(self.client, self.run_id, self._p(contract.result_path(method)))

    def log_result(
        self,
        result: Importance,
        *,
        table: str,
        model_id: str | None,
        dataset_digest: str | None = None,
    ) -> bool:
        """A method's metrics, its ``table`` (``report.method_csv``) and record (the record
        last: it marks it logged); its chart is drawn once, by ``publish``, with the report.

        Logs nothing and returns False when the record is already there: another task (a
        duplicate DAG run of the same analysis) finished this method first, and its result
        stands. Every metric is a function of the result, so two tasks that do log at once
        write the same values at the same step and timestamp, which MLflow keeps once.
        """

        method = result.method
        if self.has_result(method):
            return False
        self._log_metrics(logged_values.sanity_metrics(result))
        self._log_metrics(
            logged_values.importance_metrics(result),
            model_id=model_id,
            dataset_digest=dataset_digest,
        )
        self._write(
            {
                self._p(contract.table_path(method)): table,
                self._p(contract.result_path(method)): json.dumps(result.to_record()),
            }
        )
        return True

    def part(self, method: str, shard: int, *, randomized: bool = False) -> Any | None:
        """A shard part's record (``ShardPart.to_record``), or None when not logged."""
        return self._read(self._p(contract.part_path(method, shard, randomized=randomized)))

    def has_part(self, method: str, shard: int, *, randomized: bool = False) -> bool:
        path = self._p(contract.part_path(method, shard, randomized=randomized))
        return runs.has_artifact(self.client, self.run_id, path)

    def log_part(self, record: Mapping[str, Any], *, randomized: bool = False) -> None:
        shard = int(record["shard"])
        path = self._p(contract.part_path(record["method"], shard, randomized=randomized))
        self._write({path: json.dumps(dict(record))})

    def log_skipped(self, method: str, reason: str, *, randomized: bool = False) -> None:
        path = self._p(contract.skipped_path(method, randomized=randomized))
        self._write({path: json.dumps({"reason": reason})})

    def skipped(self, method: str, *, randomized: bool = False) -> str | None:
        record = self._read(self._p(contract.skipped_path(method, randomized=randomized)))
        return None if record is None else str(record["reason"])

    # -- the analysis steps on the top features: interactions and effects --------------------

    def has_steps(self) -> bool:
        return runs.has_artifact(self.client, self.run_id, self._p(contract.STEPS))

    def log_steps(self, found: InteractionsAndEffects, *, tables: Mapping[str, str]) -> None:
        """The steps' metrics, their ``tables`` (contract path -> CSV), and their record last."""
        self._log_metrics(logged_values.step_metrics(found))
        files = {self._p(path): table for path, table in tables.items()}
        self._write({**files, self._p(contract.STEPS): json.dumps(found.to_dict())})

    def steps(self) -> InteractionsAndEffects | None:
        """The interactions and effects logged, or None."""
        record = self._read(self._p(contract.STEPS))
        return None if record is None else InteractionsAndEffects.from_dict(record)

    # -- the data's dependence structure, logged by plan -------------------------------------

    def log_dataset(self, *, digest: str, uri: str) -> None:
        """The evaluation data as the run's dataset input (see ``runs.log_dataset``)."""
        runs.log_dataset(self.client, self.run_id, digest=digest, uri=uri)

    def log_dependence(self, found: Dependence) -> None:
        """The dependence between the features and their clusters (once per run)."""
        if not runs.has_artifact(self.client, self.run_id, contract.DEPENDENCE):
            self._write({contract.DEPENDENCE: json.dumps(found.to_dict())})

    def dependence(self) -> Dependence | None:
        record = self._read(contract.DEPENDENCE)
        return None if record is None else Dependence.from_dict(record)

    # -- what aggregate logs, and publish reads --------------------------------------------

    def log_aggregate(
        self,
        *,
        consensus: Consensus,
        agreement: Agreement,
        comparison: tuple[str, Comparison] | None,
        tables: Mapping[str, str],
        model_id: str | None,
        dataset_digest: str | None = None,
    ) -> None:
        """Consensus, agreement, the comparison with the previous version and their rendered
        ``tables`` (contract path -> CSV), then their metrics."""
        files: dict[str, str | bytes] = {
            **tables,
            self._p(contract.AGREEMENT): json.dumps(agreement.to_record(consensus.features)),
            self._p(contract.CONSENSUS): json.dumps(consensus.to_record()),
        }
        if comparison is not None:
            version, compared = comparison
            files[self._p(contract.COMPARISON)] = json.dumps(
                {"previous_version": version, **compared.to_record()}
            )
        self._write(files)
        self._log_metrics(
            logged_values.aggregate_metrics(consensus, agreement, comparison),
            model_id=model_id,
            dataset_digest=dataset_digest,
        )

    def consensus(self) -> Consensus | None:
        record = self._read(self._p(contract.CONSENSUS))
        return None if record is None else Consensus.from_record(record)

    def aggregated(self, methods: Sequence[str]) -> Aggregated:
        """What ``aggregate`` logged and ``publish`` reads, downloaded side by side."""
        results = [self._p(contract.result_path(m)) for m in methods]
        aggregated = [*map(self._p, _AGGREGATED), contract.DEPENDENCE]
        found = runs.read_json_artifacts(self.client, self.run_id, [*results, *aggregated])
        consensus, agreement, comparison, steps, dependence = (found[p] for p in aggregated)
        return Aggregated(
            results=[Importance.from_record(r) for r in (found[p] for p in results) if r],
            consensus=None if consensus is None else Consensus.from_record(consensus),
            agreement=None if agreement is None else Agreement.from_record(agreement),
            comparison=_comparison(comparison),
            dependence=None if dependence is None else Dependence.from_dict(dependence),
            steps=None if steps is None else InteractionsAndEffects.from_dict(steps),
        )

    def comparison(self) -> tuple[str, Comparison] | None:
        """(previous version, comparison) as aggregate logged it, or None."""
        return _comparison(self._read(self._p(contract.COMPARISON)))

    # -- publish: report, manifest last, version tags ---------------------------------------

    def log_report(self, html: str, plots: Mapping[str, bytes]) -> None:
        """The run's report and charts (``contract.plot_path`` name -> PNG, of this output
        when scoped), each drawn once."""
        charts = {self._p(contract.plot_path(n)): png for n, png in plots.items()}
        self._write({contract.REPORT: html, **charts})

    def log_charts(self, plots: Mapping[str, bytes]) -> None:
        """Charts of this output (``contract.plot_path`` name -> PNG)."""
        self._write({self._p(contract.plot_path(n)): png for n, png in plots.items()})

    def outputs(self) -> dict[str, Any]:
        """The outputs of a complete analysis of several (the manifest's ``outputs``: key ->
        target, methods, skip reasons); empty for an analysis of one output."""
        manifest = self.manifest()
        return {} if manifest is None else dict(manifest.outputs)

    def report_uri(self) -> str:
        """Where the report lies (a local path for a file artifact store)."""
        root = self._info.artifact_uri
        return f"{root.removeprefix('file://')}/{contract.REPORT}"

    def artifact_paths(self) -> list[str]:
        return sorted(runs.walk_artifacts(self.client, self.run_id, ARTIFACT_DIR))

    def finish(self, manifest: contract.Manifest) -> None:
        """Write the manifest, last of all artifacts, and mark the run FINISHED."""
        runs.finish_run(self.client, self.run_id, manifest.to_dict())

    def manifest(self) -> contract.Manifest | None:
        """The run's manifest; None until the analysis is complete."""
        record = self._read(contract.MANIFEST)
        return None if record is None else contract.Manifest.from_dict(record)

    def tag_version(self, name: str, version: str, tags: Mapping[str, str]) -> None:
        """Set ``tags`` (``logged_values.version_tags``: the status last, so that a reader who
        sees it complete sees the others) and clear a reason left by an earlier refusal, and
        top features or drift an earlier analysis left that this one does not set."""
        for key, value in tags.items():
            set_version_tag(self.client, name, version, key, value)
        found = self.client.get_model_version(name, version).tags
        for key in [*stale_tags(found, dict(tags)), VersionTag.REASON]:
            if key in found:
                self.client.delete_model_version_tag(name, version, key)

    def tag_logged_model(self, model_id: str, tags: Mapping[str, str]) -> None:
        """The ``importance.*`` tags on the version's LoggedModel too, so that
        ``search_logged_models`` can filter on them (its metrics are already linked)."""
        self.client.set_logged_model_tags(model_id, dict(tags))
        if VersionTag.REASON in (self.client.get_logged_model(model_id).tags or {}):
            self.client.delete_logged_model_tag(model_id, VersionTag.REASON)

    @classmethod
    def previous_consensus(
        cls,
        client: MlflowClient,
        name: str,
        version: str,
        *,
        experiment: str,
        output: str | None = None,
    ) -> tuple[str, dict[str, int]] | None:
        """The closest earlier version of ``name`` with a consensus ranking (of ``output``,
        when one of several): (version, feature -> rank). A version's complete run (its tags)
        comes first; failing that, a run in ``experiment`` that aggregated that version but is
        not published yet (an earlier version analysed in the same batch, such as a registry
        audit)."""
        older = sorted(
            (
                str(v.version)
                for v in client.search_model_versions(f"name = '{name}'")
                if int(v.version) < int(version)
            ),
            key=int,
            reverse=True,
        )
        exp = client.get_experiment_by_name(experiment)
        for candidate in older:
            for run_id in cls._ranked_runs(client, name, candidate, exp):
                found = cls(client, run_id, output).consensus()
                if found is not None:
                    return candidate, found.ranks()
        return None

    @classmethod
    def _ranked_runs(cls, client: MlflowClient, name: str, version: str, exp: Any) -> list[str]:
        tags = VersionTags.read(client, name, version)
        found: list[str] = []
        complete = tags.status == VersionStatus.COMPLETE and tags.run_id
        if complete and runs.has_artifact(client, str(tags.run_id), contract.MANIFEST):
            return [str(tags.run_id)]
        if exp is not None:
            candidates = client.search_runs(
                [exp.experiment_id],
                filter_string=f"tags.`{RunTag.MODEL_NAME}` = '{name}' and "
                f"tags.`{RunTag.MODEL_VERSION}` = '{version}'",
                order_by=["attributes.start_time DESC"],
                max_results=5,
            )
            found = [r.info.run_id for r in candidates]
        return found


def _comparison(record: Any | None) -> tuple[str, Comparison] | None:
    """(previous version, comparison) as aggregate logged it, or None."""
    if record is None or "current_rank" not in record:
        return None
    return str(record["previous_version"]), Comparison.from_record(record)
