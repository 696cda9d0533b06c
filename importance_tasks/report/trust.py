"""The report's sections on how far a ranking can be trusted: clusters of dependent features
(with the clustered dependence map, group importance and marginal against conditional
importance), the agreement matrix, the sanity verdicts and the drift from the previous version.
HTML fragments and PNG bytes only; ``report.report_html`` puts them on the page."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import numpy as np

from importance_tasks.dependence import Dependence
from importance_tasks.methods import ConditionalPermutation, Permutation
from importance_tasks.ranking.comparison import Comparison
from importance_tasks.ranking.ranks import Agreement, Consensus
from importance_tasks.report.png_figure import png_figure
from importance_tasks.result import Importance

__all__ = [
    "agreement_section",
    "clusters_section",
    "dependence_map_png",
    "drift_paragraph",
    "sanity_section",
]

esc = html.escape
MARGINAL, CONDITIONAL = Permutation.name, ConditionalPermutation.name


def dependence_map_png(found: Dependence, *, max_labels: int = 60) -> bytes:
    """The dependence matrix in the dendrogram's order, clusters outlined."""
    from matplotlib.patches import Rectangle

    order = list(found.order)
    n = len(order)
    size = min(2.5 + 0.32 * n, 14)
    with png_figure((size + 1.2, size)) as (fig, ax, png):
        image = ax.imshow(found.matrix[np.ix_(order, order)], cmap="magma_r", vmin=0, vmax=1)
        if n <= max_labels:
            names = [found.features[i] for i in order]
            ax.set_xticks(range(n), names, rotation=90, fontsize=7)
            ax.set_yticks(range(n), names, fontsize=7)
        position = {found.features[i]: k for k, i in enumerate(order)}
        for cluster in found.clusters:
            places = sorted(position[f] for f in cluster)
            if places[-1] - places[0] + 1 == len(places):  # contiguous in the leaf order
                start = places[0] - 0.5
                ax.add_patch(
                    Rectangle(
                        (start, start), len(places), len(places), fill=False, lw=2, ec="#00aa88"
                    )
                )
        fig.colorbar(image, ax=ax, label="dependence (|Spearman|, Cramér's V, eta)")
        ax.set_title(f"dependence, clustered (clusters: >= {found.threshold:g} on average)")
    return png.getvalue()


def _rank_among(value: float, singles: Sequence[float]) -> int:
    """The rank a group of importance ``value`` would take among single features."""
    return 1 + int(sum(1 for v in singles if v > value))


def _group_cell(result: Importance, cluster: Sequence[str]) -> str:
    """A method's importance of ``cluster`` as one group (matched by its columns), with the
    rank it would take among the single features."""
    for group in (result.diagnostics.get("cluster_importance") or {}).values():
        if set(group["columns"]) == set(cluster):
            rank = _rank_among(group["mean"], list(result.mean))
            return (
                f"{group['mean']:.4g} (95% {group['ci_low']:.3g} to {group['ci_high']:.3g}); "
                f"as one feature it would rank #{rank}"
            )
    return ""


def _clusters_table(found: Dependence, results: Sequence[Importance]) -> str:
    """The measured clusters and any others a method ranked (given ``clusters``), each with
    its mean dependence and every ranking method's group importance."""
    ranked = [r for r in results if r.diagnostics.get("cluster_importance")]
    clusters = [tuple(c) for c in found.clusters]
    for r in ranked:
        for group in r.diagnostics["cluster_importance"].values():
            if set(group["columns"]) not in [set(c) for c in clusters]:
                clusters.append(tuple(group["columns"]))
    heads = "".join(f"<th>{esc(r.method)} as a group</th>" for r in ranked)
    if not ranked:
        heads = "<th>as a group</th>"
    rows = []
    for cluster in clusters:
        cells = [_group_cell(r, cluster) for r in ranked] or [
            "not computed (auto_groups off, or no method that ranks groups ran: permutation, probe)"
        ]
        known = all(f in found.features for f in cluster)
        within = f"{found.within(cluster):.2f}" if known else ""
        rows.append(
            f"<tr><td>{esc(', '.join(cluster))}</td><td>{within}</td>"
            + "".join(f"<td>{esc(c)}</td>" for c in cells)
            + "</tr>"
        )
    return (
        f"<table><tr><th>cluster</th><th>mean dependence</th>{heads}</tr>"
        + "".join(rows)
        + "</table>"
    )


def clusters_section(
    found: Dependence | None, results: Sequence[Importance], map_png: bytes | None
) -> str:
    """Clusters, their importance as groups, and marginal against conditional importance."""
    import base64

    if found is None:
        return "<p>Dependence between features was not measured for this run.</p>"
    if not found.clusters:
        text = (
            f"<p>No cluster of dependent features (none depend on each other by "
            f"{found.threshold:g} or more on average): the methods' rankings are not "
            "confounded by shared information.</p>"
        )
    else:
        text = (
            "<p>Features in one cluster carry shared information. Shuffling one of them alone "
            "makes the model see rows that never occur, and each method splits the shared "
            "credit its own way; the cluster's importance as one group (all its columns "
            "perturbed together) is what the data can tell.</p>"
        )
    if found.clusters or any(r.diagnostics.get("cluster_importance") for r in results):
        text += _clusters_table(found, results)
    text += _marginal_conditional({r.method: r for r in results}, found)
    if map_png is not None:
        text += (
            '<figure><img alt="clustered dependence map" src="data:image/png;base64,'
            f'{base64.b64encode(map_png).decode()}"></figure>'
        )
    return text


def _marginal_conditional(by_method: Mapping[str, Importance], found: Dependence) -> str:
    marginal, conditional = by_method.get(MARGINAL), by_method.get(CONDITIONAL)
    if marginal is None or conditional is None:
        return ""
    rows = []
    for i in np.argsort(-marginal.mean, kind="stable"):
        feature = marginal.features[i]
        m, c = float(marginal.mean[i]), float(conditional.mean[i])
        partners = found.partners(feature)
        note = ""
        if partners and m > 0 and c < 0.5 * m:
            note = (
                f"most of its importance is shared with {', '.join(partners)}: the model can "
                "do without it when its partners stay"
            )
        elif partners:
            note = f"carries information beyond {', '.join(partners)}"
        rows.append(
            f"<tr><td>{esc(feature)}</td><td>{m:.4g}</td><td>{c:.4g}</td><td>{m - c:.4g}</td>"
            f"<td>{esc(note)}</td></tr>"
        )
    return (
        "<h3>Marginal and conditional importance</h3><p>Conditional permutation shuffles a "
        "feature only among rows whose cluster partners are alike (Strobl et al. 2008): what "
        "remains is the importance the feature has beyond its partners. Equal for features "
        "outside clusters.</p><table><tr><th>feature</th><th>marginal</th><th>conditional</th>"
        "<th>gap</th><th></th></tr>" + "".join(rows) + "</table>"
    )


def _green(value: float) -> str:
    """A background from light (0.3 and below) to dark green (1), readable with dark text."""
    share = min(max((value - 0.3) / 0.7, 0.0), 1.0) if np.isfinite(value) else 0.0
    return f"hsl(140, 45%, {95 - 50 * share:.0f}%)"


def _matrix_table(agreement: Agreement, methods: Sequence[str], measure: str) -> str:
    matrix = agreement.matrix(methods, measure)
    head = "".join(f"<th>{esc(m)}</th>" for m in methods)
    body = "".join(
        f"<tr><th>{esc(a)}</th>"
        + "".join(f'<td style="background:{_green(v)}">{v:.2f}</td>' for v in matrix[i])
        + "</tr>"
        for i, a in enumerate(methods)
    )
    return f"<table><tr><th></th>{head}</tr>{body}</table>"


def agreement_section(
    agreement: Agreement,
    consensus: Consensus,
    results: Sequence[Importance],
    found: Dependence | None,
) -> str:
    """Kendall's W, the rank-biased overlap and Spearman matrices, and where the methods
    disagree, explained through clusters where a disputed feature is in one."""
    methods = [r.method for r in results]
    by_method = {r.method: r for r in results}
    marginal, conditional = by_method.get(MARGINAL), by_method.get(CONDITIONAL)
    disputed = []
    for feature, spread in agreement.disputed(consensus.features):
        why = ""
        if found is not None and found.partners(feature):
            partners = ", ".join(found.partners(feature))
            why = (
                f": in a cluster with {partners}, the methods split their shared credit differently"
            )
            if marginal is not None and conditional is not None:
                i = marginal.features.index(feature)
                why += (
                    f"; it keeps {conditional.mean[i]:.3g} of its {marginal.mean[i]:.3g} "
                    f"marginal importance with {partners} kept in place"
                )
            why += " (see the correlated features)"
        disputed.append(f"<li>{esc(feature)}: rank spread {spread:.2f}{esc(why)}</li>")
    rbo = (
        "<h3>Rank-biased overlap (p = 0.9: the top 10 ranks carry 86% of the weight)</h3>"
        + _matrix_table(agreement, methods, "rbo")
        if agreement.rbo
        else ""
    )
    return (
        f"<p>Kendall's W over all methods: {agreement.kendall_w:.3f} (weighs every rank "
        "alike).</p>"
        + rbo
        + "<h3>Spearman rank correlation</h3>"
        + _matrix_table(agreement, methods, "spearman")
        + "<h3>Where the methods disagree most</h3><ul>"
        + ("".join(disputed) or "<li>nowhere</li>")
        + "</ul>"
    )


def sanity_section(results: Sequence[Importance], consensus: Consensus) -> str:
    """A verdict per method: cascading model randomisation, label randomisation, consensus."""
    rows = []
    for r in results:
        sanity = r.diagnostics.get("sanity")
        if not sanity:
            continue
        if "spearman" not in sanity:
            rows.append(
                f"<tr><td>{esc(r.method)}</td><td colspan=3>not checked: "
                f"{esc(str(sanity.get('skipped', '')))}</td><td>kept</td></tr>"
            )
            continue
        cascade = sanity.get("cascade") or []
        steps = ", ".join(f"top {s['layers']}: {s['spearman']:.2f}" for s in cascade) or (
            f"all layers: {sanity['spearman']:.2f}"
        )
        labels = sanity.get("labels")
        label_cell = (
            f"{labels['ratio']:.0%} of the importance kept "
            + ("(passed)" if labels["passed"] else "(FAILED)")
            if labels
            else "does not apply (not loss-based)"
        )
        verdict = "passed" if sanity["passed"] else "FAILED: " + str(sanity.get("reason", ""))
        in_consensus = "left out" if r.method in consensus.excluded else "kept"
        rows.append(
            f"<tr><td>{esc(r.method)}</td><td>{esc(steps)}</td><td>{esc(label_cell)}</td>"
            f"<td>{esc(verdict)}</td><td>{in_consensus}</td></tr>"
        )
    if not rows:
        return "<p>Not run (enable sanity_check).</p>"
    return (
        "<p>Model randomisation redraws the weights from the top layer down (Adebayo et al. "
        "2018); each step shows the Spearman correlation with the ranking on the trained model, "
        "and the check passes when it is below 0.8 with every layer redrawn. Label "
        "randomisation shuffles the labels: a loss-based method's positive importance must "
        "vanish (passes below 50% kept). A method that fails is left out of the consensus "
        "(all are kept when all fail).</p><table><tr><th>method</th>"
        "<th>model randomisation (Spearman by layers redrawn)</th><th>label randomisation</th>"
        "<th>verdict</th><th>consensus</th></tr>" + "".join(rows) + "</table>"
    )


def drift_paragraph(comparison: Comparison) -> str:
    """nDCG@k against the previous version, and whether that is drift."""
    state = "DRIFTED" if comparison.drifted else "no drift"
    return (
        f"<p>Top-{comparison.k} drift: nDCG@{comparison.k} {comparison.ndcg:.3f} against the "
        f"previous version's ranking ({state}; drift below {comparison.threshold:g})</p>"
    )
