"""The analysis settings as DAG Params (the trigger form), shared by every DAG that analyses."""

from __future__ import annotations

from airflow.sdk import Param

from importance_tasks.methods import REGISTRY

__all__ = ["analysis_params"]


def analysis_params() -> dict[str, Param]:
    """Params for ``methods``, ``n_repeats``, ``max_samples``, ``seed``, ``sanity_check``,
    ``shard_rows`` and ``experiment``, validated by JSON schema in the trigger form."""
    methods = list(REGISTRY)
    return {
        "methods": Param(
            methods,
            type="array",
            items={"type": "string", "enum": methods},
            examples=methods,
            minItems=1,
            uniqueItems=True,
            description="Importance methods, one parallel task each",
        ),
        "n_repeats": Param(5, type="integer", minimum=1, maximum=1000),
        "max_samples": Param(
            1.0, type="number", exclusiveMinimum=0, description="Fraction of rows (or a count)"
        ),
        "seed": Param(0, type="integer", minimum=0),
        "sanity_check": Param(
            False,
            type="boolean",
            description="Also run each method on a randomised model and flag methods whose "
            "ranking does not change (doubles the cost)",
        ),
        "shard_rows": Param(
            None,
            type=["null", "integer"],
            minimum=2,
            description="Rows per shard for permutation and probe: larger data is split into "
            "shards computed as parallel tasks (empty: 250,000)",
        ),
        "experiment": Param("importance", type="string", minLength=1),
    }
