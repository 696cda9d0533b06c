"""Importance methods: one module and one class each, found through an entry-point group.

Every method is a subclass of ``ImportanceMethod`` (``methods.base``) registered under the
entry-point group ``importance_tasks.methods`` (ours in this package's ``pyproject.toml``), so a
team ships its own method as a package and every process that imports this one (the
scheduler, the dag-processor, each worker) sees the same set. ``REGISTRY`` maps each name to
its class: ours, then every installed entry point's, loaded on first use (so that a method's
package can import this one's names while it is being imported).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from importlib.metadata import entry_points
from typing import Any

from importance_tasks.errors import InputError, UnsupportedModelError
from importance_tasks.methods.base import ImportanceMethod, OptionSpec, options_of
from importance_tasks.methods.conditional_permutation import ConditionalPermutation
from importance_tasks.methods.integrated_gradients import IntegratedGradients
from importance_tasks.methods.lime import Lime
from importance_tasks.methods.permutation import Permutation
from importance_tasks.methods.probe import Probe
from importance_tasks.methods.sage import Sage
from importance_tasks.methods.shap import Shap
from importance_tasks.methods.weights import Weights
from importance_tasks.setting_schema import declare

__all__ = [
    "DEFAULT_METHODS",
    "ENTRY_POINT_GROUP",
    "REGISTRY",
    "ConditionalPermutation",
    "ImportanceMethod",
    "IntegratedGradients",
    "Lime",
    "Permutation",
    "Probe",
    "Sage",
    "Shap",
    "UnsupportedModelError",
    "Weights",
    "budget_shares",
    "configurable_options",
    "make_method",
    "method_options_schema",
    "option_setting",
]

ENTRY_POINT_GROUP = "importance_tasks.methods"
# Ours, in the order an analysis runs and tables show them: the default methods.
_OURS: tuple[type[ImportanceMethod], ...] = (
    Permutation, ConditionalPermutation, Probe, Weights, IntegratedGradients, Shap, Lime, Sage,
)  # fmt: skip
DEFAULT_METHODS = tuple(cls.name for cls in _OURS)


def _registered(ours: Mapping[str, type[ImportanceMethod]]) -> dict[str, type[ImportanceMethod]]:
    """Ours, then each class registered under ``ENTRY_POINT_GROUP``, by name.

    Raises
    ------
    ImportError
        When an entry point cannot be loaded, is not an ``ImportanceMethod``, is registered
        under another name than its class's ``name``, or takes a name already taken.
    """
    found = dict(ours)
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        where = f"the importance method {entry.name!r} ({entry.value}, package {entry.dist})"
        try:
            cls = entry.load()
        except Exception as exc:
            raise ImportError(f"{where} cannot be loaded: {exc}; reinstall or remove it") from exc
        if not (isinstance(cls, type) and issubclass(cls, ImportanceMethod)):
            raise ImportError(f"{where} is not a subclass of ImportanceMethod")
        if getattr(cls, "name", None) != entry.name:
            raise ImportError(f"{where} is a class named {getattr(cls, 'name', None)!r}")
        if found.get(entry.name, cls) is not cls:
            raise ImportError(f"{where} takes a name another method has")
        found[entry.name] = cls
    return found


class _Registry(Mapping[str, type[ImportanceMethod]]):
    """Ours at once; the installed entry points' on the first lookup of anything."""

    def __init__(self) -> None:
        self._ours = {cls.name: cls for cls in _OURS}
        self._found: dict[str, type[ImportanceMethod]] | None = None

    @property
    def _all(self) -> dict[str, type[ImportanceMethod]]:
        if self._found is None:
            self._found = _registered(self._ours)
        return self._found

    def __getitem__(self, name: str) -> type[ImportanceMethod]:
        return self._all[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all)

    def __len__(self) -> int:
        return len(self._all)


REGISTRY: Mapping[str, type[ImportanceMethod]] = _Registry()


def make_method(name: str, **options: Any) -> ImportanceMethod:
    """Build the method registered as ``name`` with its keyword options.

    Raises
    ------
    InputError
        When no method has that name, or an option is unknown or out of range (also when a
        check deeper down raises a plain ``ValueError``: a bad option is never worth a retry).
    """
    if name not in REGISTRY:
        raise InputError(f"unknown method {name!r}; available: {', '.join(REGISTRY)}")
    takes = sorted(options_of(REGISTRY[name]))
    unknown = sorted(set(options) - set(takes))
    if unknown:
        raise InputError(f"method {name!r}: unknown options {unknown}; it takes {takes}")
    try:
        return REGISTRY[name](**options)
    except (TypeError, ValueError) as exc:  # InputError is a ValueError
        raise InputError(f"method {name!r}: {exc}") from exc


def configurable_options(method: str) -> dict[str, tuple[Any, OptionSpec]]:
    """The options of ``method`` an analysis may set per method: name -> (default, spec)."""
    return {k: v for k, v in options_of(REGISTRY[method]).items() if v[1].configurable}


def method_options_schema() -> dict[str, Any]:
    """JSON schema of the analysis's ``method_options``: one object per method whose
    properties are its options' schemas, with their defaults and help."""
    properties = {}
    for method in REGISTRY:
        options = {
            name: {**spec.schema, "default": default, "description": spec.help}  # type: ignore[dict-item]
            for name, (default, spec) in configurable_options(method).items()
        }
        properties[method] = {
            "type": "object",
            "properties": options,
            "additionalProperties": False,
        }
    return {"type": "object", "properties": properties, "additionalProperties": False}


def option_setting(option: str, *methods: type[ImportanceMethod], help: str) -> Any:
    """A setting that sets the option ``option`` of each of ``methods`` (an explicit
    ``method_options`` entry overrides it): the option's schema (or empty) and check, and
    its help with each method's default."""
    spec = options_of(methods[0])[option][1]
    if spec.schema is None or not spec.configurable:
        raise TypeError(f"{option} is not an option an analysis sets")
    kinds = spec.schema["type"]
    defaults = ", ".join(f"{m.name} {options_of(m)[option][0]:,}" for m in methods)
    return declare(
        None,
        help=f"{help} (empty: the method's default, {defaults})",
        schema={**spec.schema, "type": [*([kinds] if isinstance(kinds, str) else kinds), "null"]},
        option_of=tuple(m.name for m in methods),
        check=spec.check,
    )


def budget_shares(methods: Sequence[str]) -> dict[str, float]:
    """The share of an analysis's time guard each of ``methods`` that takes one gets: in
    proportion to the methods' typical seconds of work at 100 features (``typical_seconds``)."""
    typical = {
        m: float(REGISTRY[m].typical_seconds(100))
        for m in methods
        if "time_budget_s" in options_of(REGISTRY[m])
    }
    total = sum(typical.values())
    return {m: t / total for m, t in typical.items()} if total else {}
