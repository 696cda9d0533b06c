"""Which model version an analysis is of: as asked (``ModelSpec``: a name with an alias or a
version) and as pinned (``ModelRef``: the version an alias pointed to, its run and LoggedModel)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from importance_tasks.errors import RegistryError

__all__ = ["ModelRef", "ModelSpec"]


@dataclass(frozen=True)
class ModelSpec:
    """A registered model as a user names it: a name and exactly one of alias and version."""

    name: str
    alias: str | None = None
    version: str | None = None

    def __post_init__(self) -> None:
        if not self.name or (self.alias is None) == (self.version is None):
            raise RegistryError(
                f"model {self.name!r} needs exactly one of alias and version (got "
                f"alias={self.alias!r}, version={self.version!r}); a version is always pinned"
            )
        if self.version is not None:
            object.__setattr__(self, "version", str(self.version))
            if not str(self.version).isdigit():
                raise RegistryError(f"version {self.version!r} of {self.name!r} is not a number")

    @classmethod
    def parse(cls, spec: str) -> ModelSpec:
        """``NAME@ALIAS``, ``NAME/VERSION`` or a ``models:/`` URI of either."""
        text = spec.strip().removeprefix("models:/")
        name, at, alias = text.rpartition("@")
        if at and name and alias:
            return cls(name, alias=alias)
        head, slash, tail = text.rpartition("/")
        if not at and slash and head and tail.isdigit():
            return cls(head, version=tail)
        raise RegistryError(
            f"model {spec!r} must be NAME@ALIAS, NAME/VERSION or models:/NAME@ALIAS "
            "(a version is pinned, never 'latest')"
        )

    def __str__(self) -> str:
        return f"{self.name}@{self.alias}" if self.alias else f"{self.name}/{self.version}"


@dataclass(frozen=True)
class ModelRef:
    """A pinned registered model version (what a plan carries from task to task)."""

    name: str
    version: str
    source: str
    run_id: str | None
    model_id: str | None
    alias: str | None = None

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def to_dict(self) -> dict[str, str | None]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelRef:
        return cls(
            name=str(data["name"]),
            version=str(data["version"]),
            source=str(data.get("source") or ""),
            run_id=data.get("run_id"),
            model_id=data.get("model_id"),
            alias=data.get("alias"),
        )
