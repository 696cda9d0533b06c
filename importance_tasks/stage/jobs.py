"""The compute jobs of a planned analysis: a method in one piece, or one row shard of it (and,
with the sanity check, on the randomised model); and the analysis steps on the top features."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from importance_tasks.config import AnalysisConfig
from importance_tasks.methods import make_method
from importance_tasks.methods.shards import Sharded
from importance_tasks.stage.plan import Plan

__all__ = ["STEPS_JOB", "Job", "jobs", "n_shards", "shardable"]

# The job of the analysis steps on the top features (interactions, effects): not a method.
STEPS_JOB = "interactions_effects"


@dataclass(frozen=True)
class Job:
    """One compute task: a method, in one piece (``shard`` None) or one row shard of it, on
    the model or (for a sharded method's sanity check) on its randomised copy; of one output
    when the analysis has several."""

    method: str
    shard: int | None = None
    randomized: bool = False
    output: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "shard": self.shard,
            "randomized": self.randomized,
            "output": self.output,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Job:
        return cls(
            data["method"],
            data.get("shard"),
            bool(data.get("randomized", False)),
            data.get("output"),
        )

    @property
    def label(self) -> str:
        shard = "" if self.shard is None else f" shard {self.shard}"
        output = "" if self.output is None else f"{self.output}: "
        return output + self.method + shard + (" (randomised model)" if self.randomized else "")


def shardable(config: AnalysisConfig, method: str) -> Sharded | None:
    """The method, when it works in row shards."""
    instance = make_method(method, **config.options_for(method))
    return instance if isinstance(instance, Sharded) else None


def n_shards(plan: Plan, method: str) -> int:
    """Row shards ``method`` splits this analysis's data into (1: computed in one piece)."""
    instance = shardable(plan.config, method)
    return 1 if instance is None else instance.n_shards(plan.n_rows)


def jobs(plan: Plan) -> list[Job]:
    """The compute jobs of an analysis: one per method, or one per row shard (and with the
    sanity check, one per shard on the randomised model) for a method that splits its rows;
    and the interactions and effects (``STEPS_JOB``), from the ranking its task has."""
    out: list[Job] = []
    sanity = plan.config.sanity_check
    for output in plan.outputs or (None,):
        for method in plan.config.methods:
            count = n_shards(plan, method)
            if count == 1:
                out.append(Job(method, output=output))
                continue
            out.extend(Job(method, k, output=output) for k in range(count))
            if sanity:
                out.extend(Job(method, k, randomized=True, output=output) for k in range(count))
        if plan.config.interactions or plan.config.effects:
            out.append(Job(STEPS_JOB, output=output))
    return out
