"""Each method's own options as the analysis sees them: which of a method's keyword options an
analysis may set per method, and their JSON schema, derived from the methods' constructor
signatures (the schema of the ``method_options`` setting, its DAG Param and form)."""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Sequence
from typing import Any, Literal

from importance_tasks.methods import REGISTRY

__all__ = [
    "PYTHON_ONLY_OPTIONS",
    "SHARED_OPTIONS",
    "budget_shares",
    "configurable_options",
    "method_options_schema",
]

# Options the configuration gives every method that declares them; not set per method.
SHARED_OPTIONS = ("random_state", "groups", "cluster_groups")
# Options that exist for Python callers of one method class but not as analysis settings
# (an explicit array of permutations cannot travel through JSON, a DAG Param or a flag).
PYTHON_ONLY_OPTIONS = ("permutations",)


def configurable_options(method: str) -> dict[str, inspect.Parameter]:
    """The keyword options of ``method`` that an analysis may set per method."""
    parameters = inspect.signature(REGISTRY[method]).parameters
    return {
        name: p
        for name, p in parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
        and name not in SHARED_OPTIONS
        and name not in PYTHON_ONLY_OPTIONS
    }


def method_options_schema() -> dict[str, Any]:
    """JSON schema of ``method_options``, from the methods' constructor signatures: one object
    per method whose properties are its options, typed and with their defaults."""
    properties = {}
    for method, cls in REGISTRY.items():
        hints = typing.get_type_hints(cls.__init__)
        options = {}
        for name, parameter in configurable_options(method).items():
            schema = _json_type(hints.get(name, Any))
            if parameter.default is not inspect.Parameter.empty:
                schema["default"] = parameter.default
            options[name] = schema
        properties[method] = {
            "type": "object",
            "properties": options,
            "additionalProperties": False,
        }
    return {"type": "object", "properties": properties, "additionalProperties": False}


def _json_type(annotation: Any) -> dict[str, Any]:
    """A JSON schema for a constructor annotation: int, float, str, bool, Literal, unions."""
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return {"type": "string", "enum": list(typing.get_args(annotation))}
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        nullable = len(members) < len(typing.get_args(annotation))
        schema: dict[str, Any]
        if set(members) <= {int, float}:
            schema = {"type": "integer" if members == [int] else "number"}
        elif len(members) == 1:
            schema = _json_type(members[0])
        else:
            schema = {}
        if nullable and "type" in schema:
            schema["type"] = [schema["type"], "null"]
        return schema
    simple = {bool: "boolean", int: "integer", float: "number", str: "string"}
    return {"type": simple[annotation]} if annotation in simple else {}


def budget_shares(methods: Sequence[str]) -> dict[str, float]:
    """The share of an analysis's time guard each of ``methods`` that takes one gets: in
    proportion to the methods' typical seconds of work at 100 features (``typical_seconds``)."""
    defaults = {}
    for method in methods:
        if "time_budget_s" in inspect.signature(REGISTRY[method]).parameters:
            defaults[method] = float(REGISTRY[method].typical_seconds(100))  # type: ignore[attr-defined]
    total = sum(defaults.values())
    return {m: d / total for m, d in defaults.items()} if total else {}
