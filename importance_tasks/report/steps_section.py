"""The report's first screen (``first_screen``: what a reader came for, in sentences) and the
interactions and effects as file contents: their CSV tables, a chart of the pairs' strength, a
small chart per feature's effect, and the report's section on them, from what the steps
found (``effects.steps.InteractionsAndEffects``)."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from typing import Any

from importance_tasks.effects.accumulated import Effect
from importance_tasks.effects.interaction import acts_together
from importance_tasks.effects.steps import InteractionsAndEffects
from importance_tasks.report.document import csv_text
from importance_tasks.report.png_figure import png_figure

# A pair whose joint effect is at least this much interaction explains its methods' disagreement.
STRONG_H2 = 0.5

__all__ = [
    "effects_csv",
    "effects_png",
    "first_screen",
    "interactions_csv",
    "interactions_png",
    "steps_html",
]


def interactions_csv(found: InteractionsAndEffects) -> str:
    """A row per pair, strongest first: strength, H² and its 95% interval (empty where the
    pair's joint effect is not material)."""
    rows = []
    for pair in found.pairs:
        low, high = pair.interval or ("", "")
        h2 = "" if pair.h2 is None else pair.h2
        rows.append([*pair.features, pair.strength, h2, low, high])
    return csv_text(["feature_a", "feature_b", "strength", "h2", "h2_low", "h2_high"], rows)


def effects_csv(found: InteractionsAndEffects) -> str:
    """A row per feature and grid point: the effect, its band and (ALE) partial dependence."""
    rows = []
    for name, effect in found.effects.items():
        pd_values: list[Any] = effect.pd or [""] * len(effect.grid)
        for x, value, (low, high), pd_value in zip(
            effect.grid, effect.values, effect.band, pd_values, strict=True
        ):
            rows.append([name, effect.kind, effect.direction, x, value, low, high, pd_value])
    header = ["feature", "kind", "direction", "at", "effect", "low", "high", "partial_dependence"]
    return csv_text(header, rows)


def interactions_png(found: InteractionsAndEffects, *, top: int = 10) -> bytes:
    """The strongest pairs as bars of strength, with H² written beside each."""
    pairs = [p for p in found.pairs if p.h2 is not None][:top][::-1]
    with png_figure((6, 0.8 + 0.3 * max(len(pairs), 1))) as (_, ax, png):
        ax.barh([" x ".join(p.features) for p in pairs], [p.strength for p in pairs])
        for i, pair in enumerate(pairs):
            ax.text(pair.strength, i, f" H² {pair.h2:.2f}", va="center", fontsize=8)
        ax.set_xlabel("interaction strength (on the output's scale)")
    return png.getvalue()


def effects_png(effects: Mapping[str, Effect], *, columns: int = 3) -> bytes:
    """Each feature's effect in one figure of small charts (one figure draws in a fraction
    of the time of one per feature): ALE with its band, partial dependence and ICE lines
    beside it; or its effect per category."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = max(1, -(-len(effects) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.4 * rows), dpi=100)
    try:
        for ax in axes.flat[len(effects) :]:
            ax.set_visible(False)
        for ax, (name, effect) in zip(axes.flat, effects.items(), strict=False):
            _effect_axes(ax, name, effect)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
    finally:
        plt.close(fig)
    return buffer.getvalue()


def _effect_axes(ax: Any, name: str, effect: Effect) -> None:
    low, high = zip(*effect.band, strict=True) if effect.band else ((), ())
    if effect.kind == "categories":
        ax.bar(effect.grid, effect.values, color="#4477aa")
    else:
        for line in effect.ice or []:
            ax.plot(effect.grid, line, color="#cccccc", linewidth=0.7)
        ax.fill_between(effect.grid, low, high, color="#4477aa", alpha=0.25)
        ax.plot(effect.grid, effect.values, color="#4477aa", label="ALE")
        if effect.pd is not None:
            ax.plot(effect.grid, effect.pd, color="#cc6677", linestyle="--", label="PD")
        ax.legend(fontsize=7)
    ax.set_title(f"{name}: {effect.direction}", fontsize=9)
    ax.tick_params(labelsize=7)


def steps_html(found: InteractionsAndEffects, charts: Mapping[str, bytes]) -> str:
    """The report's section: the pairs that act together and which way each top feature
    pushes, in sentences, then the charts."""
    esc = html.escape
    pairs = [(p, p.h2) for p in found.pairs if p.h2 is not None]
    together = "".join(
        f"<li>{esc(' and '.join(p.features))}: strength {p.strength:.3g}, H² {h2:.2f}</li>"
        for p, h2 in pairs[:5]
        if p.strength > 0
    )
    why = "".join(
        f"<p>{esc(a)} and {esc(b)} matter through their interaction (H² {h2:.2f}): "
        "permutation and occlusion count the joint effect for each of them, SHAP, LIME and "
        "SAGE split it between them, so the methods disagree on them for that reason.</p>"
        for p, h2 in pairs[:3]
        if h2 >= STRONG_H2
        for a, b in [p.features]
    )
    ways = ", ".join(f"{esc(name)} {esc(e.direction)}" for name, e in found.effects.items())
    images = "".join(
        f'<img alt="{esc(name)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
        for name, png in charts.items()
    )
    return (
        "<h2>Acting together, and which way</h2>"
        + (f"<ul>{together}</ul>" if together else "<p>No pair acts together among the top.</p>")
        + why
        + (f"<p>Which way: {ways}.</p>" if ways else "")
        + f"<div>{images}</div>"
    )


def first_screen(
    consensus: Any,
    results: Sequence[Any],
    steps: InteractionsAndEffects | None,
    clusters: Sequence[Sequence[str]],
    *,
    negligible: Sequence[str] = (),
    unseen: Mapping[str, int] | None = None,
    top: int = 5,
) -> list[str]:
    """What a reader came for, in sentences: which features matter (ties named), which the
    model barely uses, which act together (``acts_together``), which way the top ones push
    (none of the negligible), what the clusters mean, whether every method passed its
    checks, and which values the model's lookups have no entry for."""
    import numpy as np

    order = [int(i) for i in np.argsort(consensus.rank, kind="stable")[:top]]
    groups: dict[int, list[str]] = {}
    for i in order:
        groups.setdefault(int(consensus.shown_rank[i]), []).append(consensus.features[i])
    matter = "; ".join(
        " and ".join(names) + (" (too close to call)" if len(names) > 1 else "")
        for names in groups.values()
    )
    sentences = [f"Most important, in order: {matter}."]
    if negligible:
        sentences.append(f"Barely used (negligible by every method): {', '.join(negligible)}.")
    found = steps or InteractionsAndEffects()
    pairs = [p for p in found.pairs if acts_together(p)]
    if pairs and pairs[0].strength > 0:
        a, b = pairs[0].features
        sentences.append(
            f"Acting together most: {a} and {b} (H² {pairs[0].h2:.2f}: that share of their "
            "joint effect is not the sum of their own)."
        )
    elif found.interactions is not None:
        sentences.append("No pair among the top features acts together: their effects add up.")
    effects = {n: e for n, e in found.effects.items() if n not in negligible}
    if effects:
        ways = ", ".join(f"{n} {e.direction}" for n, e in list(effects.items())[:top])
        sentences.append(f"Which way (as each feature grows, the output): {ways}.")
    if clusters:
        named = "; ".join(" + ".join(c) for c in clusters)
        sentences.append(
            f"Clusters of features that carry the same information: {named}; their importance is "
            "shared, so also read each cluster's importance as a group."
        )
    checked = {
        r.method: r.diagnostics["sanity"]["passed"]
        for r in results
        if "passed" in (r.diagnostics.get("sanity") or {})
    }
    if checked:
        failed = [m for m, ok in checked.items() if not ok]
        sentences.append(
            "Every method passed its sanity check."
            if not failed
            else f"Failed their sanity check (left out of the consensus): {', '.join(failed)}."
        )
    else:
        sentences.append("No sanity check was run (sanity_check: true runs it).")
    if unseen:
        counts = ", ".join(f"{column} in {rows} rows" for column, rows in unseen.items())
        sentences.append(
            f"Values the model's lookups have no entry for (analysed as unknown): {counts}."
        )
    return sentences
