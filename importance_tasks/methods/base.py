"""The protocol every importance method implements."""

from __future__ import annotations

from typing import ClassVar, Protocol

from importance_tasks.data import EvalData
from importance_tasks.methods._common import ProgressFn
from importance_tasks.model import Model
from importance_tasks.result import Importance

__all__ = ["ImportanceMethod"]


class ImportanceMethod(Protocol):
    """A method is configured by its constructor's keyword options and run by ``compute``.

    The constructor validates every option and raises ``ValueError`` naming the option,
    its value and what is allowed. ``compute`` returns the one result type.
    """

    name: ClassVar[str]
    # A short column heading for tables (the name where it is short already).
    label: ClassVar[str]
    needs_data: ClassVar[bool]
    # Whether the importance is measured through a loss against the labels (the label
    # randomisation check applies only then).
    uses_labels: ClassVar[bool]

    def seconds(self, n_rows: int, n_features: int, rows_per_s: float) -> float:
        """Rough seconds of its work on data of this size at ``rows_per_s`` model rows per
        second: what packing orders and packs jobs by (never what sizes the work)."""
        ...

    def compute(
        self,
        model: Model,
        data: EvalData,
        *,
        scoring: str = "auto",
        progress: ProgressFn | None = None,
    ) -> Importance: ...
