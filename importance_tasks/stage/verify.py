"""Compute a logged analysis again and say whether it gives the same numbers.

The work each method does is decided from the model, the data and the settings (never from the
clock), so the same version, data, settings and seed give the same numbers on any worker. This
reads what a run logged (the manifest's model version, data URI and digest, and every setting),
loads the same model version and data, computes each method again and compares its importance
with the run's metrics and its logged table.

The tolerance: a float32 forward pass is not bitwise equal across batch shapes or processors
(up to 16 float32 ulps of each output, ``tests/precision.py``); an importance is an average of
differences of such outputs or of their losses, so it may move by a few ulps of the outputs'
scale. ``RELATIVE_TOLERANCE`` of the method's largest importance covers that with a margin of
more than ten (16 ulps are 1.9e-6), and still names a changed value: a logged metric altered in
its fifth significant digit is a difference. Ranks may swap only among features whose logged
95% intervals overlap.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from importance_tasks import contract
from importance_tasks.config import AnalysisConfig
from importance_tasks.errors import DataError, InputError
from importance_tasks.evaluable import constant_features
from importance_tasks.mlflow_io.analysis_run import AnalysisRun
from importance_tasks.mlflow_io.client import connect
from importance_tasks.result import Importance
from importance_tasks.runner import run_method
from importance_tasks.stage.inputs import data_digest, load_inputs

__all__ = [
    "RELATIVE_TOLERANCE",
    "CannotVerifyError",
    "MethodCheck",
    "Verification",
    "verification_summary",
    "verify",
]

RELATIVE_TOLERANCE = 2e-5


class CannotVerifyError(InputError):
    """The analysis cannot be computed again: the run is incomplete or records too little,
    or its data is gone or changed. Not worth a retry."""


@dataclass(frozen=True)
class MethodCheck:
    """One method of one output, computed again: ``identical`` (within the tolerance) or what
    differs and by how much."""

    output: str | None
    method: str
    identical: bool
    detail: str

    def line(self) -> str:
        where = f"{self.output}: " if self.output else ""
        return (
            f"{where}{self.method}: {'identical' if self.identical else 'DIFFERS'} ({self.detail})"
        )


@dataclass(frozen=True)
class Verification:
    """The checks of one run, with the Keras backends it was logged and computed again on
    ("" for a pyfunc model, or a run logged before backends were recorded)."""

    run_id: str
    checks: tuple[MethodCheck, ...]
    backend: str = ""
    logged_backend: str = ""

    @property
    def identical(self) -> bool:
        return all(check.identical for check in self.checks)

    def report(self) -> str:
        lines = [check.line() for check in self.checks]
        lines.append(
            f"tolerance: {RELATIVE_TOLERANCE:g} of each method's largest importance (float32 "
            "forward passes over other batch shapes or processors); ranks may swap only "
            "within overlapping 95% intervals"
        )
        if self.backend and self.logged_backend and self.backend != self.logged_backend:
            lines.append(
                f"computed again on Keras' {self.backend} backend, logged on "
                f"{self.logged_backend}: the same float32 network through other kernels, "
                "which the tolerance covers (the backend is not part of the analysis)"
            )
        verdict = "identical" if self.identical else "NOT identical"
        lines.append(f"run {self.run_id}: {verdict}")
        return "\n".join(lines)


def verify(run_id: str, *, tracking_uri: str | None = None) -> Verification:
    """Compute the analysis logged in run ``run_id`` again and compare it, method by method,
    with the run's metrics and logged tables.

    Raises
    ------
    CannotVerifyError
        The run is incomplete, was logged before its settings were recorded, or its data can
        no longer be read or has another digest.
    """
    client = connect(tracking_uri)
    base = AnalysisRun(client, run_id)
    manifest = base.manifest()
    if manifest is None:
        raise CannotVerifyError(f"run {run_id} has no manifest: the analysis is not complete")
    if manifest.settings is None:
        raise CannotVerifyError(
            f"run {run_id} was logged before analyses recorded their settings: analyse the "
            "version again to get a run that can be verified"
        )
    config = dataclasses.replace(
        AnalysisConfig.from_settings(manifest.settings), sanity_check=False
    )
    data, model = manifest.data, manifest.model
    try:
        inputs = load_inputs(
            client,
            f"models:/{model.name}/{model.version}",
            data_uri=data.uri,
            target=list(data.targets) or data.target,
            feature_names=config.feature_names,
            columns_in_model_order=config.columns_in_model_order,
            windowing=config.windowing,
        )
    except (DataError, FileNotFoundError, OSError) as exc:
        raise CannotVerifyError(
            f"the data of run {run_id} ({data.uri}) cannot be read: {exc}"
        ) from exc
    found = data_digest(inputs.source.data)
    if found != data.digest:
        raise CannotVerifyError(
            f"the data at {data.uri} changed: digest {found}, the run analysed {data.digest}"
        )
    run = client.get_run(run_id).data
    metrics = run.metrics
    constant = constant_features(inputs.data)
    checks = []
    outputs: list[str | None] = [*manifest.outputs] or [None]
    for output in outputs:
        scoped = base.of_output(output)
        logged = {r.method: r for r in scoped.results(list(manifest.part(output).methods))}
        model_of, data_of = inputs.for_output(output)
        for_output = config.for_output(output or inputs.target)
        for method, result in logged.items():
            again = run_method(method, for_output, model_of, data_of, constant=constant).result
            checks.append(_check(output, result, again, _metric_values(metrics, result, output)))
    return Verification(
        run_id,
        tuple(checks),
        backend=getattr(inputs.model, "backend", ""),
        logged_backend=run.params.get(contract.BACKEND_PARAM, ""),
    )


def _metric_values(
    metrics: Mapping[str, float], result: Importance, output: str | None
) -> np.ndarray:
    """The run's importance metrics of ``result``'s features (NaN where one is missing)."""
    keys = contract.scoped_metrics(
        {contract.metric_key("importance", result.method, f): 0.0 for f in result.features},
        output,
    )
    return np.array([metrics.get(key, np.nan) for key in keys], dtype=np.float64)


def _check(
    output: str | None, logged: Importance, again: Importance | None, metric: np.ndarray
) -> MethodCheck:
    method = logged.method
    if again is None:
        return MethodCheck(output, method, False, "could not be computed again")
    differences = []
    for key in ("n_rows", "n_orderings", "max_evals", "n_repeats"):
        if logged.settings.get(key) != again.settings.get(key):
            differences.append(f"{key} {logged.settings.get(key)} -> {again.settings.get(key)}")
    if logged.status != again.status:
        differences.append(f"status {logged.status} -> {again.status}")
    scale = max(float(np.nanmax(np.abs(again.mean))), 1e-12)
    tolerance = RELATIVE_TOLERANCE * scale
    for what, values in (("metric", metric), ("logged table", logged.mean)):
        gap = np.abs(np.nan_to_num(values, nan=np.inf) - again.mean)
        gap = np.where(np.isnan(again.mean) & np.isnan(values), 0.0, gap)
        worst = int(np.argmax(gap))
        if gap[worst] > tolerance:
            differences.append(
                f"{what} of {logged.features[worst]} {values[worst]:.6g}, computed "
                f"{again.mean[worst]:.6g} (gap {gap[worst]:.3g} > {tolerance:.3g}; "
                f"{int((gap > tolerance).sum())} of {len(gap)} features beyond)"
            )
    if not differences:
        swapped = _swaps_outside_intervals(logged, again)
        if swapped:
            differences.append(swapped)
    if differences:
        return MethodCheck(output, method, False, "; ".join(differences))
    gap = float(np.nanmax(np.abs(logged.mean - again.mean))) if len(again.mean) else 0.0
    return MethodCheck(output, method, True, f"largest gap {gap:.2g}")


def _swaps_outside_intervals(logged: Importance, again: Importance) -> str:
    """A pair of features whose order changed though their logged intervals do not overlap."""
    order = np.argsort(-np.nan_to_num(again.mean, nan=-np.inf), kind="stable")
    for a, b in itertools.pairwise(order):
        if logged.mean[a] < logged.mean[b] and logged.ci_low[b] > logged.ci_high[a]:
            return f"{logged.features[a]} now ranks above {logged.features[b]}"
    return ""


def verification_summary(found: Verification) -> dict[str, Any]:
    """The verification as JSON (for ``--json`` and other pipelines)."""
    return {
        "run_id": found.run_id,
        "identical": found.identical,
        "tolerance": {"relative": RELATIVE_TOLERANCE},
        "backend": found.backend,
        "logged_backend": found.logged_backend,
        "methods": [dataclasses.asdict(check) for check in found.checks],
    }
