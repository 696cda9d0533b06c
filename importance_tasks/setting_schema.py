"""A setting's value checked against its JSON schema, the one declaration of what it allows.

The schema each ``AnalysisConfig`` field declares is what the DAG's Params and trigger form
check, and what ``checked_value`` checks here (jsonschema, draft 2020-12), so the two cannot
disagree. A refusal names the setting, the offending part and what the schema allows, in words:
``seed=-1 is not allowed; it must be an integer >= 0``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from importance_tasks.errors import InputError

__all__ = ["Setting", "checked_value", "declare", "declared", "plain", "requirement"]


def plain(value: Any) -> Any:
    """Tuples as lists, mappings as dicts and numpy scalars as Python's, all the way down
    (JSON's shapes)."""
    if type(value).__module__ == "numpy" and getattr(value, "shape", None) == ():
        return value.item()
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    return value


def checked_value(name: str, value: Any, schema: Mapping[str, Any]) -> Any:
    """``value`` when ``schema`` allows it, in the configuration's shapes (lists as tuples,
    groups as name -> tuple, whole numbers declared integer as int, numbers as float).

    Raises
    ------
    InputError
        Naming the setting, the part of the value that is refused and what is allowed.
    """
    from jsonschema.exceptions import best_match

    error = best_match(_validator(json.dumps(schema, sort_keys=True)).iter_errors(plain(value)))
    if error is not None:
        where = name + "".join(f"[{part!r}]" for part in error.absolute_path)
        if error.validator == "additionalProperties":
            allowed = sorted(error.schema.get("properties", {}))
            unknown = sorted(set(error.instance) - set(allowed))
            raise InputError(f"{where}: unknown options {unknown}; it takes {allowed}")
        raise InputError(
            f"{where}={error.instance!r} is not allowed; it must be {requirement(error.schema)}"
        )
    return _shaped(value, schema)


@functools.cache
def _validator(schema: str) -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(schema))


def _kinds(schema: Mapping[str, Any]) -> list[str]:
    kinds = schema.get("type", [])
    return [kinds] if isinstance(kinds, str) else list(kinds)


def _shaped(value: Any, schema: Mapping[str, Any]) -> Any:
    kinds = _kinds(schema)
    if value is None:
        return None
    if "array" in kinds and not isinstance(value, str):
        return tuple(_shaped(v, schema.get("items", {})) for v in value)
    if "object" in kinds and isinstance(value, Mapping):
        members = schema.get("additionalProperties")
        if isinstance(members, Mapping):
            return {str(k): _shaped(v, members) for k, v in value.items()}
        return {k: dict(v) if isinstance(v, Mapping) else v for k, v in value.items()}
    if "integer" in kinds:
        return int(value)
    if "number" in kinds:
        return float(value)
    return value


def requirement(schema: Mapping[str, Any]) -> str:
    """What ``schema`` allows, in words: ``an integer >= 1 (or empty)``, ``one of [...]``."""
    kinds = _kinds(schema)
    kind = next((k for k in kinds if k != "null"), None)
    if "enum" in schema:
        text = f"one of {list(schema['enum'])}"
    elif kind == "boolean":
        text = "true or false"
    elif kind in ("integer", "number"):
        text = ("an integer" if kind == "integer" else "a number") + _range(schema)
    elif kind == "array":
        items = schema.get("items", {})
        distinct = "distinct " if schema.get("uniqueItems") else ""
        allowed = f" from {list(items['enum'])}" if "enum" in items else ""
        text = f"a list of {distinct}names{allowed}"
        if schema.get("minItems"):
            text += f", at least {schema['minItems']}"
    elif kind == "object":
        members = schema.get("additionalProperties")
        listed = isinstance(members, Mapping) and "array" in _kinds(members)
        text = "an object mapping each name to a list of columns" if listed else "an object"
        text = ("a non-empty " + text.removeprefix("an ")) if schema.get("minProperties") else text
    else:
        text = f"of type {kind}"
    return text + (" (or empty)" if "null" in kinds else "")


def _range(schema: Mapping[str, Any]) -> str:
    low, above, high = (schema.get(k) for k in ("minimum", "exclusiveMinimum", "maximum"))
    if high is not None:
        opening = f"({above}" if above is not None else f"[{low if low is not None else ''}"
        return f" in {opening}, {high}]"
    if above is not None:
        return f" > {above}"
    return "" if low is None else f" >= {low}"


def declare(
    default: Any = dataclasses.MISSING,
    *,
    help: str | Callable[[], str],
    schema: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
    option_of: tuple[str, ...] = (),
    check: Callable[[Any], Any] | None = None,
    factory: Any = dataclasses.MISSING,
) -> Any:
    """A dataclass field declaring a setting: its default, help, JSON schema, the methods
    whose option of the same name it sets (a shortcut) and what normalises a value the schema
    allows (the option's own check, for a shortcut). A help or schema that depends on the
    installed methods is given as a function, read when the settings are (after every method's
    package is imported)."""
    metadata = {"help": help, "schema": schema, "option_of": option_of, "check": check}
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Setting:
    """One declared setting: its name, default, help and JSON schema, the methods whose
    option of the same name it sets (a shortcut), if any, and its check after the schema."""

    name: str
    default: Any
    help: str
    schema: Mapping[str, Any]
    option_of: tuple[str, ...]
    check: Callable[[Any], Any] | None = None

    def checked(self, value: Any) -> Any:
        """``value`` checked against the schema, then by ``check`` (None stays None)."""
        value = checked_value(self.name, value, self.schema)
        return value if value is None or self.check is None else self.check(value)


def _read(value: Any) -> Any:
    return value() if callable(value) else value


@functools.cache
def declared(cls: Any) -> tuple[Setting, ...]:
    """Every setting a dataclass declares with ``declare``, in declaration order."""
    found = []
    for item in dataclasses.fields(cls):
        default = (
            item.default_factory()
            if item.default_factory is not dataclasses.MISSING
            else item.default
        )
        found.append(
            Setting(
                name=item.name,
                default=list(default) if isinstance(default, tuple) else default,
                help=_read(item.metadata["help"]),
                schema=dict(_read(item.metadata["schema"])),
                option_of=item.metadata["option_of"],
                check=item.metadata["check"],
            )
        )
    return tuple(found)
