"""importance_tasks: which inputs matter to a Keras model, computed properly.

Importing the package is cheap: it does not import TensorFlow, MLflow or pandas (DAG files
import it while Airflow parses them). Those load only when a model or table is used.
"""

__version__ = "0.2.0"  # the one place the version is written (pyproject.toml reads it)

from importance_tasks.analysis import Analysis, explain
from importance_tasks.config import AnalysisConfig
from importance_tasks.data import EvalData, load_table
from importance_tasks.errors import DataError, InputError
from importance_tasks.keras import KerasModel, load_keras_file
from importance_tasks.methods import REGISTRY, ImportanceMethod, UnsupportedModelError, make_method
from importance_tasks.model import CallableModel, Model
from importance_tasks.ranking import Consensus, consensus
from importance_tasks.result import Importance

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
]
