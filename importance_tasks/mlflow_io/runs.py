"""Runs as the analysis uses them: found again by key, metrics written once, JSON artifacts.

The names of the contract (artifact paths, tags) live in ``contract``; these are the
mechanics under it. Metrics are written at step 0 with the run's start time as timestamp, so
a retry that logs the same value again adds no history.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from importance_tasks.contract import (
    ARTIFACT_DIR,
    CLAIM_PREFIX,
    EVALUATION_DATASET,
    MANIFEST,
    MANIFEST_FILE,
    RunTag,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

__all__ = [
    "experiment_id",
    "finish_run",
    "has_artifact",
    "is_duplicate",
    "log_artifacts",
    "log_metrics",
    "open_run",
    "read_json_artifact",
    "walk_artifacts",
]

# Claims that settle which run an analysis key has (see ``_claimed_run``).
CLAIM_WAIT_S, CLAIM_POLL_S = 60.0, 0.25
_MAX_PARAM = 6000
READ_TRIES, READ_PAUSE_S = 3, 0.5  # reads of an artifact that is being replaced
READ_THREADS = 8  # artifacts downloaded side by side
# A run's info, read once per process for what the run fixes when it is created (its artifact
# root and start time; not its status): (tracking URI, run id) -> RunInfo.
_RUN_INFO: dict[tuple[str, str], Any] = {}


def experiment_id(client: MlflowClient, name: str) -> str:
    from mlflow.exceptions import MlflowException

    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    try:
        return str(client.create_experiment(name))
    except MlflowException as exc:  # created meanwhile by a parallel task
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise exc from None
        return str(experiment.experiment_id)


def _runs_with_key(client: MlflowClient, experiment_id: str, key: str) -> list[Run]:
    """The live runs of analysis ``key``, earliest start (then run id) first."""
    found = client.search_runs(
        [experiment_id], filter_string=f"tags.`{RunTag.KEY}` = '{key}'", max_results=50
    )
    return sorted(found, key=lambda r: (r.info.start_time, r.info.run_id))


def open_run(
    client: MlflowClient,
    *,
    experiment: str,
    key: str,
    run_name: str,
    tags: Mapping[str, str],
    params: Mapping[str, Any],
) -> tuple[str, bool]:
    """The run for analysis ``key``: found again if it exists, else created, once.

    Returns ``(run_id, complete)``; ``complete`` is True when its manifest is already there.
    A run left RUNNING or FAILED by a dead task is taken over, never duplicated. Which run
    is the analysis's is settled by a claim (``_claimed_run``), so that two tasks creating it
    at once, or a create request retried by the client, end in the same one run.
    """
    exp_id = experiment_id(client, experiment)
    run = client.get_run(_claimed_run(client, exp_id, key, run_name, tags))
    run_id = run.info.run_id
    if has_artifact(client, run_id, MANIFEST):
        return run_id, True
    if run.info.status != "RUNNING":
        client.update_run(run_id, status="RUNNING")
    logged = run.data.params
    fresh = {k: _param(v) for k, v in params.items() if k not in logged}
    if fresh:
        from mlflow.entities import Param

        client.log_batch(run_id, params=[Param(k, v) for k, v in fresh.items()])
    return run_id, False


def _claimed_run(
    client: MlflowClient, exp_id: str, key: str, run_name: str, tags: Mapping[str, str]
) -> str:
    """The id of analysis ``key``'s run, settled through a claim.

    MLflow cannot create a run only if none exists, and deleting duplicates afterwards loses
    runs: a create that commits late (or a POST the client retried) may sort first, after
    another task has begun logging into its own run. An experiment's name is unique in the
    backend store, deleted experiments included, so the claim is an experiment named after
    the key, created with a random token: the task whose token it holds creates the run (or
    adopts one made before claims existed), writes its id on the claim and deletes the claim
    experiment (it leaves the UI, and keeps its name); every other task waits for that id.
    Runs of the key other than the claimed one were never handed out and are deleted. A claim
    whose creator died before naming a run is taken over after ``CLAIM_WAIT_S``. A claimed
    run that was deleted (to analyse again) starts the next claim generation.
    """
    import time
    import uuid

    from mlflow.exceptions import MlflowException

    token = uuid.uuid4().hex
    generation = 0
    while True:
        name = f"{CLAIM_PREFIX}{exp_id}/{key}/{generation}"
        claim = client.get_experiment_by_name(name)
        if claim is None:
            try:
                client.create_experiment(name, tags={RunTag.CLAIMANT: token})
            except MlflowException as exc:  # another task's claim, or our retried request
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
            claim = client.get_experiment_by_name(name)
        if claim is None:
            raise MlflowException(f"the claim {name!r} was created but cannot be read back")
        if claim.tags.get(RunTag.CLAIMANT) == token:
            return _settle(client, claim, exp_id, key, run_name, tags)
        waited = time.monotonic()
        while not claim.tags.get(RunTag.CLAIMED_RUN):
            if time.monotonic() - waited > CLAIM_WAIT_S:  # its creator died before naming a run
                return _settle(client, claim, exp_id, key, run_name, tags)
            time.sleep(CLAIM_POLL_S)
            claim = client.get_experiment(claim.experiment_id)
        run_id = str(claim.tags[RunTag.CLAIMED_RUN])
        if client.get_run(run_id).info.lifecycle_stage != "deleted":
            _delete_strays(client, exp_id, key, run_id)
            return run_id
        generation += 1


def _settle(
    client: MlflowClient,
    claim: Any,
    exp_id: str,
    key: str,
    run_name: str,
    tags: Mapping[str, str],
) -> str:
    """Name the claim's run (adopted or created), close the claim, delete stray runs."""
    from mlflow.exceptions import MlflowException

    found = _runs_with_key(client, exp_id, key)
    run_id = (
        found[0].info.run_id
        if found
        else client.create_run(
            exp_id, run_name=run_name, tags={RunTag.KEY: key, **tags}
        ).info.run_id
    )
    client.set_experiment_tag(claim.experiment_id, RunTag.CLAIMED_RUN, run_id)
    with contextlib.suppress(MlflowException):  # a retried delete finds it deleted already
        client.delete_experiment(claim.experiment_id)
    _delete_strays(client, exp_id, key, run_id)
    return run_id


def _delete_strays(client: MlflowClient, exp_id: str, key: str, run_id: str) -> None:
    """Delete the runs of ``key`` other than the claimed one (a retried create's second run,
    which may commit after the claim was settled): no task was ever handed them."""
    from mlflow.exceptions import MlflowException

    for stray in _runs_with_key(client, exp_id, key):
        if stray.info.run_id != run_id:
            with contextlib.suppress(MlflowException):  # deleted meanwhile
                client.delete_run(stray.info.run_id)


def _param(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text[:_MAX_PARAM]


def artifact_repository(client: MlflowClient, run_id: str) -> Any:
    """The artifact repository of the run's artifact root. Listing through it is one request;
    ``MlflowClient.list_artifacts`` by run id resolves the run's logged models and lists their
    artifacts too, about half a second more each time on a server. The root is fixed when the
    run is created, so it is read once per process: reading the run again each time cost a
    request of 70 ms that grows with its metrics (about ten per compute task)."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    root = _fixed_info(client, run_id).artifact_uri
    return get_artifact_repository(root, tracking_uri=client.tracking_uri)


def _fixed_info(client: MlflowClient, run_id: str) -> Any:
    """The run's info, read once per process: only for what does not change after creation."""
    key = (str(client.tracking_uri), run_id)
    if key not in _RUN_INFO:
        _RUN_INFO[key] = client.get_run(run_id).info
    return _RUN_INFO[key]


def has_artifact(client: MlflowClient, run_id: str, path: str) -> bool:
    folder = str(Path(path).parent)
    listed = artifact_repository(client, run_id).list_artifacts(folder)
    return any(a.path == path for a in listed)


def log_metrics(
    client: MlflowClient,
    run_id: str,
    metrics: Mapping[str, float],
    *,
    model_id: str | None = None,
    dataset_digest: str | None = None,
) -> None:
    """Log metrics at step 0 with the run's start time, linked to the logged model if known.

    Safe to repeat: MLflow keeps an identical (key, value, timestamp, step) of the run once,
    but its SQL store inserts the logged model's copy of a linked metric again, which its
    unique constraint on (model, name, timestamp, step, run) refuses: a rerun against a server
    failed there. So a batch is sent as it is, and when it is refused (a rerun, or another task
    logging the same metrics at the same moment) it is sent again without the metrics the run
    already holds with the same value. (Reading the run first every time cost a request that
    grows with its metrics.)
    """
    import math

    from mlflow.entities import Metric
    from mlflow.exceptions import MlflowException

    timestamp = int(_fixed_info(client, run_id).start_time)
    dataset = (EVALUATION_DATASET, dataset_digest) if model_id and dataset_digest else (None, None)
    wanted = {
        key: float(value)
        for key, value in metrics.items()
        if not (isinstance(value, float) and math.isnan(value))
    }

    def send(logged: Mapping[str, float]) -> None:
        batch = [
            Metric(
                key,
                value,
                timestamp,
                0,
                model_id=model_id,
                dataset_name=dataset[0],
                dataset_digest=dataset[1],
            )
            for key, value in wanted.items()
            if logged.get(key) != value
        ]
        for start in range(0, len(batch), 1000):  # MLflow's log_batch limit
            client.log_batch(run_id, metrics=batch[start : start + 1000])

    try:
        send({})
    except MlflowException as exc:
        if not is_duplicate(exc):
            raise
        send(client.get_run(run_id).data.metrics)


def is_duplicate(exc: Exception) -> bool:
    """A SQL store's unique-constraint refusal (SQLite, PostgreSQL, MySQL wordings)."""
    text = str(exc)
    return any(word in text for word in ("UNIQUE constraint", "duplicate key", "Duplicate entry"))


def log_dataset(client: MlflowClient, run_id: str, *, digest: str, uri: str) -> None:
    """The evaluation data as the run's dataset input (context ``evaluation``), once: the
    metrics linked to the logged model name it by name and digest."""
    from mlflow.entities import Dataset, DatasetInput, InputTag
    from mlflow.exceptions import MlflowException

    if _has_dataset(client, run_id, digest):
        return
    dataset = Dataset(
        name=EVALUATION_DATASET, digest=digest, source_type="uri", source=json.dumps({"uri": uri})
    )
    inputs = [DatasetInput(dataset=dataset, tags=[InputTag("mlflow.data.context", "evaluation")])]
    for attempt in range(2):
        try:
            client.log_inputs(run_id, datasets=inputs)
            return
        except MlflowException as exc:
            # The dataset created by another run, or linked by another task, between the store's
            # lookup and insert: done if it is linked now, else found on the second try.
            if not is_duplicate(exc) or attempt:
                raise
            if _has_dataset(client, run_id, digest):
                return


def _has_dataset(client: MlflowClient, run_id: str, digest: str) -> bool:
    inputs = client.get_run(run_id).inputs
    return any(d.dataset.digest == digest for d in (inputs.dataset_inputs if inputs else []))


def log_artifacts(
    client: MlflowClient,
    run_id: str,
    files: Mapping[str, str | bytes],
    *,
    folder: str = ARTIFACT_DIR,
) -> None:
    """Write files (relative path under ``folder`` -> content) into the run's artifacts."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / folder
        for relative, content in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)
        client.log_artifacts(run_id, str(root), folder)


def read_json_artifact(client: MlflowClient, run_id: str, path: str) -> Any | None:
    """A JSON artifact of the run, or None when it does not exist (see ``read_json_artifacts``)."""
    return read_json_artifacts(client, run_id, [path])[path]


def read_json_artifacts(
    client: MlflowClient, run_id: str, paths: Sequence[str]
) -> dict[str, Any | None]:
    """JSON artifacts of the run by path, None for those that do not exist.

    Read through the run's artifact repository: each folder is listed once and the files are
    downloaded side by side. (``download_artifacts`` by run id resolves the run, and its logged
    models' artifacts, again for every file: about a second a file on a busy server, most of
    ``aggregate`` and ``publish``.)
    """
    from concurrent.futures import ThreadPoolExecutor

    repo = artifact_repository(client, run_id)
    existing: set[str] = set()
    for folder in {str(Path(p).parent) for p in paths}:
        existing.update(a.path for a in repo.list_artifacts(folder))
    found = [p for p in paths if p in existing]
    with ThreadPoolExecutor(max_workers=max(1, min(READ_THREADS, len(found)))) as pool:
        read = dict(zip(found, pool.map(lambda p: _download_json(repo, p), found), strict=True))
    return {p: read.get(p) for p in paths}


def _download_json(repo: Any, path: str) -> Any:
    """Two tasks that finish the same analysis at once both write its manifest; a read that
    meets the file while it is being replaced is tried again (READ_TRIES times, READ_PAUSE_S
    apart)."""
    import time

    from mlflow.exceptions import MlflowException

    for attempt in range(READ_TRIES):
        try:
            with tempfile.TemporaryDirectory() as tmp:
                local = repo.download_artifacts(path, dst_path=tmp)
                return json.loads(Path(local).read_text())
        except (MlflowException, OSError, json.JSONDecodeError):
            if attempt == READ_TRIES - 1:
                raise
            time.sleep(READ_PAUSE_S)
    return None


def finish_run(client: MlflowClient, run_id: str, manifest: Mapping[str, Any]) -> None:
    """Write the manifest (last of all artifacts) and mark the run FINISHED."""
    log_artifacts(client, run_id, {MANIFEST_FILE: json.dumps(manifest, indent=2)})
    client.set_terminated(run_id, status="FINISHED")


def walk_artifacts(client: MlflowClient, run_id: str, path: str) -> list[str]:
    """Every artifact file under ``path`` in the run (relative paths)."""
    repo = artifact_repository(client, run_id)

    def walk(folder: str) -> list[str]:
        found: list[str] = []
        for item in repo.list_artifacts(folder):
            found.extend(walk(item.path) if item.is_dir else [item.path])
        return found

    return walk(path)
