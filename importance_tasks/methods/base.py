"""The base every importance method derives from, and how a method declares its options.

A method is one class in one module (Captum's one class per algorithm on a shared base). Its
options are declared once, as fields made with ``option``: the default, the help, the JSON
schema that checks the value (scikit-learn's one declaration of each parameter's constraints)
and, for what a schema cannot say, a check. The class is a keyword-only dataclass, so its
signature is its options; building it checks every option (``InputError`` naming the option,
its value and what is allowed). The analysis's settings, the DAG's Params, the command line's
``--option`` and the help texts all read these declarations (``importance_tasks.methods``).

A method also declares its label for tables, the unit its progress counts, whether it needs
data and labels, and the seconds of its work (what packing orders jobs by); ``measure`` is the
method itself, timed and wrapped by ``compute``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, dataclass_transform

from importance_tasks.data import EvalData
from importance_tasks.errors import InputError
from importance_tasks.methods._common import ProgressFn, RandomState, draw_seed
from importance_tasks.model import Model
from importance_tasks.result import Importance
from importance_tasks.setting_schema import checked_value

__all__ = [
    "ROWS_OR_FRACTION",
    "STEP_ROWS",
    "ImportanceMethod",
    "OptionSpec",
    "Run",
    "Seeded",
    "choice",
    "column_groups",
    "integer",
    "option",
    "options_of",
    "rows_option",
    "rows_or_fraction",
]


@dataclass(frozen=True)
class OptionSpec:
    """What a method declares of one option besides its name and default.

    ``schema`` is the JSON schema its value must meet (None: an option for Python callers
    only, e.g. an array; not an analysis setting); ``check`` normalises the value after the
    schema, or checks what the schema cannot say; ``from_analysis``: the analysis sets it for
    every method that declares it (the seed, the groups), so it is not set per method.
    """

    help: str
    schema: Mapping[str, Any] | None
    check: Callable[[Any], Any] | None
    from_analysis: bool

    @property
    def configurable(self) -> bool:
        """Whether an analysis may set it per method (``method_options``)."""
        return self.schema is not None and not self.from_analysis


def option(
    default: Any = dataclasses.MISSING,
    *,
    help: str,
    schema: Mapping[str, Any] | None = None,
    check: Callable[[Any], Any] | None = None,
    from_analysis: bool = False,
    default_factory: Any = dataclasses.MISSING,
) -> Any:
    """A method's option: a keyword-only dataclass field carrying its ``OptionSpec``."""
    metadata = {"option": OptionSpec(help, schema, check, from_analysis)}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def options_of(cls: type[ImportanceMethod]) -> dict[str, tuple[Any, OptionSpec]]:
    """A method class's options in declaration order: name -> (default, spec)."""
    found = {}
    for item in dataclasses.fields(cls):
        if item.default_factory is not dataclasses.MISSING:
            default = item.default_factory()
        else:
            default = item.default
        found[item.name] = (default, item.metadata["option"])
    return found


ROWS_OR_FRACTION = {"type": "number", "exclusiveMinimum": 0}
# A sequence model's importance per step samples at most this many windows (``per_step``).
STEP_ROWS = 1000


def choice(default: str, choices: Sequence[str], *, help: str) -> Any:
    """An option that takes one of ``choices``."""
    return option(default, help=help, schema={"type": "string", "enum": list(choices)})


def integer(minimum: int = 1) -> dict[str, Any]:
    """The schema of a whole number of at least ``minimum``."""
    return {"type": "integer", "minimum": minimum}


def rows_or_fraction(value: float | int | None) -> float | int | None:
    """Rows to use: a fraction of the rows in (0, 1] (1: all), or a whole count of rows above
    1 (``500`` or ``500.0``); None where the method sizes them. The one rule of every
    ``max_samples``."""
    if value is None:
        return None
    if value > 1:
        if float(value) != int(value):
            raise InputError(f"max_samples above 1 is a count of rows, got {value!r}")
        return int(value)
    return float(value)


def rows_option(default: float | int | None, *, help: str) -> Any:
    """A method's ``max_samples``: the rows it uses (``rows_or_fraction``; None allowed where
    the default is None, the method then sizes them)."""
    kinds = ["number", "null"] if default is None else "number"
    return option(
        default,
        help=f"{help}: a fraction in (0, 1] or a count above 1",
        schema={**ROWS_OR_FRACTION, "type": kinds},
        check=rows_or_fraction,
    )


def column_groups(groups: Mapping[str, Sequence[str]] | None) -> dict[str, tuple[str, ...]]:
    """Named groups of columns (``groups``, ``cluster_groups``) as name -> tuple of columns."""
    return {str(k): tuple(v) for k, v in (groups or {}).items()}


@dataclass(frozen=True)
class Run:
    """One call of ``compute``: the model, the data, the loss's name, where progress goes and
    when it started."""

    model: Model
    data: EvalData
    scoring: str
    progress: ProgressFn | None
    started: float


@dataclass_transform(kw_only_default=True, field_specifiers=(option,))
@dataclass(kw_only=True, eq=False)
class ImportanceMethod:
    """What every importance method shares: its declarations, its checked options, ``compute``.

    A subclass declares ``name`` (how settings, tags and tables refer to it), ``label`` (its
    column in tables), ``unit`` (what its progress counts), ``needs_data``, ``uses_labels``
    (measured through a loss against the labels: the label randomisation check applies),
    ``minimum`` (the least work whose result means anything),
    ``per_step`` (also gives a sequence model's importance per step), ``in_consensus`` (False
    for a baseline kept in the tables but out of the consensus unless asked), its options with
    ``option``, ``seconds`` and ``measure``. It is registered under the entry-point group
    ``importance_tasks.methods``.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    unit: ClassVar[str] = "steps"
    needs_data: ClassVar[bool] = True
    uses_labels: ClassVar[bool] = False
    per_step: ClassVar[bool] = False
    in_consensus: ClassVar[bool] = True
    # The least work, in ``unit``, whose result means what it says: a method whose planned or
    # finished work is less ends ``insufficient`` (0: any).
    minimum: ClassVar[int] = 0

    groups: Mapping[str, Sequence[str]] = option(
        default_factory=dict,
        help="columns reported together as one feature, such as a one-hot encoding's",
        check=column_groups,
        from_analysis=True,
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclass(kw_only=True, eq=False)(cls)

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            name, spec = item.name, item.metadata["option"]
            value = getattr(self, name)
            if spec.schema is not None:
                value = checked_value(name, value, spec.schema)
            if spec.check is not None:
                value = spec.check(value)
            setattr(self, name, value)

    def seconds(self, n_rows: int, n_features: int, rows_per_s: float) -> float:
        """Rough seconds of its work on data of this size at ``rows_per_s`` model rows per
        second: what packing orders and packs jobs by (never what sizes the work)."""
        raise NotImplementedError

    @staticmethod
    def typical_seconds(n_features: int) -> float:
        """Reference seconds of its typical work at ``n_features`` features: a method with a
        time guard (``time_budget_s``) gets a share of the analysis's guard in proportion."""
        return 0.0

    def for_step_profile(self, n_rows: int) -> ImportanceMethod:
        """The lighter copy of a ``per_step`` method that computes a sequence model's
        importance per step on ``n_rows`` windows (each cell a feature: T times the work)."""
        return dataclasses.replace(self, groups={})

    def compute(
        self,
        model: Model,
        data: EvalData,
        *,
        scoring: str = "auto",
        progress: ProgressFn | None = None,
    ) -> Importance:
        """The importance of every feature or group of ``data`` to ``model``; ``scoring``
        names the loss of a loss-based method; ``progress(done, total)`` in ``unit``."""
        return self.measure(Run(model, data, scoring, progress, time.perf_counter()))

    def measure(self, run: Run) -> Importance:
        """The method itself (what ``compute`` runs)."""
        raise NotImplementedError


class Seeded(ImportanceMethod):
    """A method that draws (rows, orderings, noise): ``random_state`` seeds every draw."""

    random_state: RandomState = option(
        None,
        help="seeds every draw: an int >= 0 (recorded in the settings), a numpy Generator or "
        "None (a fresh seed)",
        check=draw_seed,
        from_analysis=True,
    )

    @property
    def seed(self) -> int:
        """The integer seed every draw comes from."""
        return int(self.random_state)  # type: ignore[arg-type]
