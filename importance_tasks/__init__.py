"""importance_tasks: which inputs matter to a Keras model, computed properly.

Importing the package is cheap: it does not import TensorFlow, MLflow or pandas (DAG files
import it while Airflow parses them). Those load only when a model or table is used.
"""

from __future__ import annotations

__version__ = "0.2.0"  # the one place the version is written (pyproject.toml reads it)

from typing import TYPE_CHECKING

from importance_tasks.analysis import Analysis, explain
from importance_tasks.config import AnalysisConfig
from importance_tasks.data import EvalData, load_table
from importance_tasks.errors import DataError, InputError
from importance_tasks.keras import KerasModel, load_keras_file
from importance_tasks.methods import REGISTRY, ImportanceMethod, UnsupportedModelError, make_method
from importance_tasks.model import CallableModel, Model
from importance_tasks.ranking import Consensus, consensus
from importance_tasks.result import Importance

if TYPE_CHECKING:
    from importance_tasks.stage.verify import Verification

__all__ = [
    "REGISTRY",
    "Analysis",
    "AnalysisConfig",
    "CallableModel",
    "Consensus",
    "DataError",
    "EvalData",
    "Importance",
    "ImportanceMethod",
    "InputError",
    "KerasModel",
    "Model",
    "UnsupportedModelError",
    "__version__",
    "consensus",
    "explain",
    "load_keras_file",
    "load_table",
    "make_method",
    "verify",
]


def verify(run_id: str, *, tracking_uri: str | None = None) -> Verification:
    """Compute the analysis logged in MLflow run ``run_id`` again and compare it with what the
    run logged, method by method (``importance_tasks.stage.verify``; MLflow loads only now)."""
    from importance_tasks.stage.verify import verify as verify_run

    return verify_run(run_id, tracking_uri=tracking_uri)
