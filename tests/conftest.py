"""Shared fixtures: real Keras models trained on known problems, once per session."""

from __future__ import annotations

import contextlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from importance_tasks.cli.demo import stop_process_group
from importance_tasks.cli.demo_models import train_mlp
from importance_tasks.data import EvalData
from importance_tasks.keras import KerasModel
from importance_tasks.keras.backend_setup import require_backend

# The tests' own models are built on the backend the package runs on (KERAS_BACKEND, else the
# first installed: TensorFlow in .venv, JAX in .venv-lowest), set before Keras is imported.
require_backend()

FRIEDMAN_FEATURES = tuple(f"x{i}" for i in range(10))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests with servers and DAG runs (``integration``, a minute or more each) first, in
    their order, then the rest: pytest-xdist hands the workers tests in this order, so the quick
    ones fill the workers' last minutes instead of one long test running alone at the end."""
    items.sort(key=lambda item: item.get_closest_marker("integration") is None)


@dataclass(frozen=True)
class Trained:
    model: KerasModel
    data: EvalData


def _trained_once(tmp_path_factory, name: str, train) -> Any:
    """A model trained once per test run, shared by the pytest-xdist workers: the first to
    get the lock trains and saves it, the others load the saved file."""
    import fcntl

    import keras

    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    root = tmp_path_factory.getbasetemp()
    folder = (root.parent / f"models-{run}") if run else (root / "models")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.keras"
    with open(folder / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            train().save(path)
    return keras.saving.load_model(path)


@pytest.fixture(scope="session")
def friedman(tmp_path_factory) -> Trained:
    """An MLP fit to Friedman #1: y depends on x0..x4; x5..x9 are noise."""
    from sklearn.datasets import make_friedman1

    X, y = make_friedman1(n_samples=3000, n_features=10, noise=0.5, random_state=0)
    model = _trained_once(
        tmp_path_factory,
        "friedman",
        lambda: train_mlp(X[:2000], y[:2000], hidden=(64, 32), epochs=80, learning_rate=0.005),
    )
    data = EvalData(X=X[2000:], y=y[2000:], feature_names=FRIEDMAN_FEATURES)
    return Trained(KerasModel(model), data)


@pytest.fixture(scope="session")
def three_classes(tmp_path_factory) -> Trained:
    """A softmax MLP on a 3-class problem where only the first 3 of 8 features carry signal."""
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=2000,
        n_features=8,
        n_informative=3,
        n_redundant=0,
        n_repeated=0,
        n_classes=3,
        n_clusters_per_class=1,
        shuffle=False,
        random_state=0,
    )
    # shuffle=False keeps the informative features first but sorts rows by class: mix rows.
    order = np.random.default_rng(0).permutation(len(y))
    X, y = X[order], y[order]
    model = _trained_once(
        tmp_path_factory,
        "three_classes",
        lambda: train_mlp(
            X[:1500],
            y[:1500],
            hidden=(32,),
            n_outputs=3,
            output_activation="softmax",
            loss="sparse_categorical_crossentropy",
            epochs=40,
            learning_rate=0.005,
        ),
    )
    names = tuple(f"f{i}" for i in range(8))
    return Trained(KerasModel(model), EvalData(X=X[1500:], y=y[1500:], feature_names=names))


def dense_model(
    kernels: list[np.ndarray], biases: list[np.ndarray] | None = None, activation: str | None = None
) -> Any:
    """A real Keras Dense stack with the given weights (activation on hidden layers only)."""
    import keras

    layers: list[Any] = [keras.Input(shape=(kernels[0].shape[0],))]
    for i, kernel in enumerate(kernels):
        last = i == len(kernels) - 1
        layers.append(keras.layers.Dense(kernel.shape[1], activation=None if last else activation))
    model = keras.Sequential(layers)
    dense = [layer for layer in model.layers if type(layer).__name__ == "Dense"]
    for i, (layer, kernel) in enumerate(zip(dense, kernels, strict=True)):
        bias = np.zeros(kernel.shape[1]) if biases is None else biases[i]
        layer.set_weights([kernel.astype(np.float32), np.asarray(bias, dtype=np.float32)])
    return model


def linear_problem(n_rows: int = 2000, seed: int = 0) -> tuple[KerasModel, EvalData, np.ndarray]:
    """A linear Keras model y = X @ w + 1 with y exactly the model's output."""
    rng = np.random.default_rng(seed)
    w = np.array([3.0, -2.0, 1.0, 0.5, 0.0])
    X = rng.normal(size=(n_rows, 5)) * np.array([1.0, 2.0, 0.5, 1.0, 3.0])
    model = KerasModel(dense_model([w[:, None]], [np.array([1.0])]))
    y = model.predict(X.astype(np.float32))[:, 0]
    return model, EvalData(X=X, y=y, feature_names=tuple(f"a{i}" for i in range(5))), w


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_mlflow_server(
    folder,
    *,
    port: int | None = None,
    extra: tuple[str, ...] = (),
    backend_store_uri: str | None = None,
    env: dict[str, str] | None = None,
):
    """Start ``mlflow server`` on 127.0.0.1 (SQLite backend unless given, served artifacts) in
    its own process group, with ``env`` added to its environment; returns (process, uri) once
    /health answers."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    import requests

    port = port or _free_port()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "server.log", "ab") as log:  # the server keeps its own copy
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "mlflow"), "server",
                "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                "--backend-store-uri", backend_store_uri or f"sqlite:///{folder / 'mlflow.db'}",
                "--artifacts-destination", str(folder / "artifacts"),
                *extra,
            ],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            # MLflow's job runner (about 8 consumer processes) serves GenAI jobs the tests
            # never use; without it a server answers /health about 15 s sooner here.
            env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **(env or {})},
        )  # fmt: skip
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"mlflow server exited: {(folder / 'server.log').read_text()[-2000:]}"
            )
        try:
            if requests.get(f"{uri}/health", timeout=1).ok:
                return process, uri
        except requests.RequestException:
            pass
        time.sleep(0.5)
    stop_process_group(process)
    raise RuntimeError("mlflow server did not answer /health within 90 s")


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """A real MLflow tracking server on loopback for the whole session."""
    process, uri = start_mlflow_server(tmp_path_factory.mktemp("mlflow-server"))
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    yield uri
    if previous is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = previous
    stop_process_group(process)


# MLflow's process-wide state: where it talks to and which experiment is active. The
# package's connect() sets the URIs and register_keras_model the experiment, and MLflow copies
# each into an environment variable as well.
_MLFLOW_GLOBALS = (
    ("mlflow.tracking._tracking_service.utils", "_tracking_uri"),
    ("mlflow.tracking._model_registry.utils", "_registry_uri"),
    ("mlflow.tracking.fluent", "_active_experiment_id"),
)
_MLFLOW_ENVIRON = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_ID")


@pytest.fixture(autouse=True)
def _mlflow_state():
    """Put MLflow's process-wide state back after each test, so that no test reaches a server,
    or an experiment id, of an earlier test in the same worker (a fault test's killed server
    once took a later registration with it)."""
    import importlib
    import sys

    environ = {name: os.environ.get(name) for name in _MLFLOW_ENVIRON}
    loaded = "mlflow" in sys.modules
    saved = [getattr(importlib.import_module(m), a) for m, a in _MLFLOW_GLOBALS] if loaded else None
    yield
    for name, value in environ.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    if "mlflow" in sys.modules:
        values = saved or [None] * len(_MLFLOW_GLOBALS)  # MLflow's defaults before any set
        for (module, attribute), value in zip(_MLFLOW_GLOBALS, values, strict=True):
            setattr(importlib.import_module(module), attribute, value)


@pytest.fixture(autouse=True)
def _model_cache(tmp_path_factory, monkeypatch):
    """Each test session downloads registered models into its own cache."""
    monkeypatch.setenv("IMPORTANCE_TASKS_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def point_result(method: str, values, features=None):  # type: ignore[no-untyped-def]
    """An Importance with exact values (no spread): for rules over rankings."""
    from importance_tasks.result import Importance

    mean = np.asarray(values, dtype=np.float64)
    names = tuple(features or (f"f{i}" for i in range(len(mean))))
    return Importance(
        method=method,
        features=names,
        mean=mean,
        std=np.zeros_like(mean),
        ci_low=mean,
        ci_high=mean,
        repeats=None,
        groups={f: (f,) for f in names},
        settings={},
        seconds=0.0,
    )


def friedman_frame(data: EvalData):
    import pandas as pd

    frame = pd.DataFrame(data.X, columns=list(data.feature_names))
    frame["y"] = data.y
    return frame


def register_friedman(
    friedman: Trained,
    tracking_uri: str,
    name: str,
    *,
    alias: str | None = "champion",
    flavor: str | None = None,
) -> str:
    """Register the Friedman model with its evaluation data (as ``name@alias``)."""
    from importance_tasks.mlflow_io.training import register_keras_model

    return register_keras_model(
        friedman.model.keras_model,
        name=name,
        eval_frame=friedman_frame(friedman.data),
        target="y",
        tracking_uri=tracking_uri,
        alias=alias,
        flavor=flavor,
    )


def require_service(name: str, port: int, host: str = "127.0.0.1") -> None:
    """Skip when a local service is not running, except under CI (CI=true), where it fails."""
    import socket

    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        message = f"{name} is not reachable at {host}:{port} ({exc})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; services tests must run in CI")
        pytest.skip(message)


@pytest.fixture
def postgres_databases():
    """Creates fresh PostgreSQL databases on 127.0.0.1:5432 (user postgres, trust auth) on
    demand: ``new(driver)`` returns a SQLAlchemy URI; all are dropped after the test."""
    import uuid

    import psycopg

    require_service("PostgreSQL", 5432)
    names: list[str] = []

    def new(driver: str = "psycopg") -> str:
        name = f"importance_test_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        names.append(name)
        return f"postgresql+{driver}://postgres@127.0.0.1:5432/{name}"

    yield new
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


ADMIN_DSN = "host=127.0.0.1 user=postgres dbname=postgres"


@pytest.fixture
def postgres_database(postgres_databases):
    """A fresh PostgreSQL database (SQLAlchemy URI, psycopg driver), dropped after the test."""
    return postgres_databases()


@contextlib.contextmanager
def cpu_load(processes: int) -> Iterator[None]:
    """``processes`` busy processes beside the test: a worker under load."""
    import subprocess
    import sys

    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]
    try:
        yield
    finally:
        for process in busy:
            process.kill()
            process.wait()
