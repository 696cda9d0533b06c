"""The two analysis steps on the top features of a ranking: their pairwise interactions and
each one's effect curve, on seeded samples of the rows, in model evaluations counted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from importance_tasks.data import EvalData
from importance_tasks.effects.accumulated import Effect, accumulated_effect, category_effect
from importance_tasks.effects.interaction import Interactions, Pair, interactions
from importance_tasks.model import Model

__all__ = ["EFFECT_ROWS", "INTERACTION_ROWS", "InteractionsAndEffects", "effects_and_interactions"]

INTERACTION_ROWS = 100  # n: each feature and each pair costs n x n model evaluations
EFFECT_ROWS = 1000


@dataclass(frozen=True)
class InteractionsAndEffects:
    """What the two analysis steps found on the top features of a ranking: their pairwise
    interactions (None where off, or fewer than two features) and each one's effect; in the
    stage, ``ranked_by``: the methods whose consensus chose the features. ``to_dict`` is the
    logged record (``interactions_effects.json``) and the JSON's keys; ``from_dict`` reads it
    back whole."""

    interactions: Interactions | None = None
    effects: Mapping[str, Effect] = field(default_factory=dict)
    ranked_by: tuple[str, ...] = ()

    @property
    def pairs(self) -> tuple[Pair, ...]:
        """The pairs, strongest first (none where the step was off)."""
        return () if self.interactions is None else self.interactions.pairs

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if self.interactions is not None:
            found["interactions"] = [p.to_dict() for p in self.interactions.pairs]
            found["interaction_total_h2"] = dict(self.interactions.total)
            found["interaction_evaluations"] = self.interactions.evaluations
            found["interaction_rows"] = self.interactions.rows
        if self.effects:
            found["effects"] = {name: e.to_dict() for name, e in self.effects.items()}
        if self.ranked_by:
            found["ranked_by"] = list(self.ranked_by)
        return found

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> InteractionsAndEffects:
        pairs = record.get("interactions")
        found = None
        if pairs is not None:
            found = Interactions(
                tuple(Pair.from_dict(p) for p in pairs),
                dict(record.get("interaction_total_h2") or {}),
                int(record.get("interaction_evaluations", 0)),  # absent before 0.4
                int(record.get("interaction_rows", 0)),
            )
        effects = {n: Effect.from_dict(e) for n, e in (record.get("effects") or {}).items()}
        return cls(found, effects, tuple(record.get("ranked_by") or ()))


def effects_and_interactions(
    model: Model,
    data: EvalData,
    ranked: Sequence[str],
    groups: Mapping[str, Sequence[str]],
    *,
    interaction_top: int | None,
    effect_top: int | None,
    seed: int,
) -> InteractionsAndEffects:
    """Interactions among the first ``interaction_top`` of ``ranked`` (features or groups, in
    ranking order; None: off) and the effects of the first ``effect_top`` that are one column
    (groups have no curve); on the model's output that varies most over the rows."""
    position = {name: j for j, name in enumerate(data.feature_names)}
    columns = {
        name: [position[c] for c in groups.get(name, (name,)) if c in position] for name in ranked
    }
    rng = np.random.default_rng(seed)
    rows = rng.choice(data.n_rows, size=min(EFFECT_ROWS, data.n_rows), replace=False)
    sample = np.ascontiguousarray(data.X[np.sort(rows)], dtype=np.float32)
    found = None
    if interaction_top:
        chosen = [(name, columns[name]) for name in ranked[:interaction_top] if columns[name]]
        if len(chosen) >= 2:
            found = interactions(model, data.X, chosen, n_rows=INTERACTION_ROWS, seed=seed)
    effects: dict[str, Effect] = {}
    if effect_top:
        output = int(np.argmax(model.predict(sample).std(axis=0)))
        for name in [n for n in ranked if len(columns[n]) == 1][:effect_top]:
            (column,) = columns[name]
            vocabulary = data.categories.get(data.feature_names[column])
            options = {"output": output, "seed": seed}
            effects[name] = (
                accumulated_effect(model, sample, column, **options)
                if vocabulary is None
                else category_effect(model, sample, column, list(vocabulary), **options)
            )
    return InteractionsAndEffects(found, effects)
