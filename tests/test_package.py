"""The package's public surface, and that importing it stays cheap."""

from __future__ import annotations

import json
import subprocess
import sys

import importance_tasks

PUBLIC = {
    "REGISTRY",
    "Analysis",
    "CallableModel",
    "Consensus",
    "DataError",
    "EvalData",
    "Importance",
    "ImportanceMethod",
    "KerasModel",
    "Model",
    "UnsupportedModelError",
    "consensus",
    "explain",
    "load_keras_file",
    "load_table",
    "make_method",
}


def test_public_names_are_exactly_these():
    # ruff's RUF022 keeps __all__ sorted; this pins what is public.
    assert set(importance_tasks.__all__) == PUBLIC
    for name in PUBLIC:
        assert hasattr(importance_tasks, name)


def test_registry_lists_the_methods_by_their_names():
    for name, cls in importance_tasks.REGISTRY.items():
        assert cls.name == name
        assert cls.__module__ == f"importance_tasks.methods.{name}"


def test_import_does_not_load_heavy_modules():
    code = (
        "import sys, json, importance_tasks, importance_tasks.cli;"
        "print(json.dumps(sorted(m for m in ('tensorflow', 'keras', 'mlflow', 'pandas', 'sklearn')"
        " if m in sys.modules)))"
    )
    loaded = json.loads(subprocess.check_output([sys.executable, "-c", code], text=True))
    assert loaded == []
