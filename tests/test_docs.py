"""The Python the docs show runs as written (here: the search_logged_models example of the
MLflow contract, which once returned an empty frame without the experiment ids)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import mlflow

from importance_tasks.config import AnalysisConfig
from importance_tasks.contract import VersionStatus, VersionTag
from importance_tasks.mlflow_io.training import prepare_local_store
from importance_tasks.stage import run_stage
from tests.conftest import register_friedman

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _python_blocks(page: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (DOCS / page).read_text(), flags=re.S)


def test_the_search_logged_models_example_finds_the_analysed_version(friedman, tmp_path):
    store = prepare_local_store(tmp_path, experiments=("training", "importance"))
    name = f"docs-{uuid.uuid4().hex[:6]}"
    register_friedman(friedman, store, name)
    config = AnalysisConfig(methods=("permutation",), n_repeats=2)
    run_stage(f"{name}@champion", config, record=config, tracking_uri=store)
    [example] = [b for b in _python_blocks("mlflow-contract.md") if "search_logged_models" in b]
    mlflow.set_tracking_uri(store)
    scope: dict[str, object] = {"mlflow": mlflow}
    # the example ranks by the diabetes demo's bmi; this store's model has Friedman's x0..x9
    exec(example.replace("bmi", "x0"), scope)
    found = scope["versions"]
    assert len(found) == 1 and found.iloc[0]["tags"][VersionTag.STATUS] == VersionStatus.COMPLETE
