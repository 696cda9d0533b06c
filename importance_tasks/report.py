"""Tables, plots and the HTML report of an analysis, as file contents (no I/O here)."""

from __future__ import annotations

import base64
import csv
import html
import io
from collections.abc import Mapping, Sequence
from typing import Any

from importance_tasks.columns import row_type
from importance_tasks.ranking import Agreement, Comparison, Consensus
from importance_tasks.result import Importance

__all__ = [
    "audit_csv",
    "audit_html",
    "bar_chart_png",
    "comparison_csv",
    "method_csv",
    "rank_heatmap_png",
    "rankings_csv",
    "report_html",
]


def _csv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def method_csv(result: Importance) -> str:
    """One method's table: a row per feature or group, most important first."""
    order = sorted(range(len(result.features)), key=lambda i: (result.rank[i], i))
    return _csv(
        ["feature", "importance", "std", "ci_low", "ci_high", "rank", "columns"],
        [
            [
                result.features[i],
                repr(float(result.mean[i])),
                repr(float(result.std[i])),
                repr(float(result.ci_low[i])),
                repr(float(result.ci_high[i])),
                int(result.rank[i]),
                " ".join(result.groups[result.features[i]]),
            ]
            for i in order
        ],
    )


def rankings_csv(results: Sequence[Importance], consensus: Consensus) -> str:
    """Features x methods ranks, with the consensus rank and mean rank; consensus order."""
    order = sorted(range(len(consensus.features)), key=lambda i: (consensus.rank[i], i))
    return _csv(
        ["feature", "consensus_rank", "mean_rank", *(r.method for r in results)],
        [
            [
                consensus.features[i],
                int(consensus.rank[i]),
                repr(float(consensus.mean_rank[i])),
                *(int(r.rank[i]) for r in results),
            ]
            for i in order
        ],
    )


def comparison_csv(comparison: Comparison) -> str:
    moves = comparison.previous_rank - comparison.current_rank
    rows: list[list[Any]] = [
        [f, int(p), int(c), int(m)]
        for f, p, c, m in zip(
            comparison.features,
            comparison.previous_rank,
            comparison.current_rank,
            moves,
            strict=True,
        )
    ]
    rows += [[f, "", "", "added"] for f in comparison.added]
    rows += [[f, "", "", "removed"] for f in comparison.removed]
    return _csv(["feature", "previous_rank", "current_rank", "moved_up_by"], rows)


def bar_chart_png(result: Importance, *, top: int = 30) -> bytes:
    """Horizontal bars of the top features with their 95% interval as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    order = np.argsort(-result.mean, kind="stable")[:top][::-1]
    height = 0.6 + 0.3 * len(order)
    fig, ax = plt.subplots(figsize=(7, height), dpi=100)
    try:
        mean = result.mean[order]
        err = np.vstack([mean - result.ci_low[order], result.ci_high[order] - mean]).clip(min=0)
        ax.barh(
            [result.features[i] for i in order],
            mean,
            xerr=err,
            color="#4477aa",
            ecolor="#222222",
            capsize=3,
        )
        ax.set_xlabel("importance (95% interval)")
        ax.set_title(result.method)
        ax.axvline(0, color="#888888", linewidth=0.8)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
    finally:
        plt.close(fig)
    return buffer.getvalue()


def rank_heatmap_png(results: Sequence[Importance], consensus: Consensus) -> bytes:
    """Features (consensus order) x methods, coloured by each method's rank."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    order = np.argsort(consensus.rank, kind="stable")
    ranks = np.column_stack([r.rank[order] for r in results])
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(results), 0.8 + 0.3 * len(order)), dpi=100)
    try:
        image = ax.imshow(ranks, cmap="viridis_r", aspect="auto")
        ax.set_xticks(range(len(results)), [r.method for r in results], rotation=30, ha="right")
        ax.set_yticks(range(len(order)), [consensus.features[i] for i in order])
        for (i, j), value in np.ndenumerate(ranks):
            colour = "white" if value > len(order) / 2 else "black"  # readable on the colour
            ax.text(j, i, str(value), ha="center", va="center", fontsize=7, color=colour)
        fig.colorbar(image, ax=ax, label="rank (1 = most important)")
        ax.set_title("rank by method")
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
    finally:
        plt.close(fig)
    return buffer.getvalue()


def _heat(rank: int, n: int) -> str:
    """A background colour from dark (rank 1) to light (rank n), readable with dark text."""
    share = (rank - 1) / max(n - 1, 1)
    lightness = 45 + 50 * share
    return f"hsl(210, 60%, {lightness:.0f}%)"


def report_html(
    *,
    title: str,
    context: Mapping[str, Any],
    results: Sequence[Importance],
    consensus: Consensus,
    agreement: Agreement,
    comparison: Comparison | None,
    charts: Mapping[str, bytes],
    column_types: Mapping[str, str] | None = None,
) -> str:
    """A self-contained HTML page (no scripts, fonts or images from the network).
    ``column_types`` gives each column's type (a group's row shows its size)."""
    types = dict(column_types or {})
    groups = {label: members for r in results for label, members in r.groups.items()}
    esc = html.escape
    rows = sorted(range(len(consensus.features)), key=lambda i: (consensus.rank[i], i))
    head = "".join(f"<th>{esc(r.method)}</th>" for r in results)
    n = len(consensus.features)
    body = "".join(
        f"<tr><td>{consensus.rank[i]}</td><td>{esc(consensus.features[i])}</td>"
        f"<td>{esc(row_type(consensus.features[i], types, groups))}</td>"
        + "".join(
            f'<td style="background:{_heat(int(r.rank[i]), n)}" '
            f'title="95% interval {r.ci_low[i]:.3g} to {r.ci_high[i]:.3g}">'
            f"{r.mean[i]:.4g} ± {r.std[i]:.2g} (#{r.rank[i]})</td>"
            for r in results
        )
        + "</tr>"
        for i in rows
    )
    ctx = "".join(
        f"<tr><th>{esc(str(k))}</th><td>{esc(str(v))}</td></tr>" for k, v in context.items()
    )
    pairs = "".join(f"<li>{esc(k)}: {v:.3f}</li>" for k, v in agreement.spearman.items())
    disputed = "".join(
        f"<li>{esc(f)}: rank spread {s:.2f}</li>" for f, s in agreement.disputed(consensus.features)
    )
    checks = "".join(
        f"<li>{esc(r.method)}: "
        + (
            esc(r.diagnostics["sanity"].get("skipped", ""))
            if "spearman" not in r.diagnostics["sanity"]
            else (
                "passed" if r.diagnostics["sanity"]["passed"] else "FAILED (ranking barely changes)"
            )
            + f", Spearman {r.diagnostics['sanity']['spearman']:.2f} with a randomised model"
        )
        + "</li>"
        for r in results
        if r.diagnostics.get("sanity")
    )
    compared = "<p>No earlier version with a complete analysis.</p>"
    if comparison is not None:
        moves = comparison.movers(len(comparison.features))
        up = "".join(f"<li>{esc(f)}: up {m}</li>" for f, m in moves if m > 0)
        down = "".join(f"<li>{esc(f)}: down {-m}</li>" for f, m in moves if m < 0)
        compared = (
            f"<p>Rank correlation with the previous version: Spearman "
            f"{comparison.spearman:.3f}, Kendall {comparison.kendall:.3f}</p>"
            f"<h3>Moved up</h3><ul>{up or '<li>none</li>'}</ul>"
            f"<h3>Moved down</h3><ul>{down or '<li>none</li>'}</ul>"
            + (
                f"<p>New features: {esc(', '.join(comparison.added))}</p>"
                if comparison.added
                else ""
            )
            + (
                f"<p>Features no longer present: {esc(', '.join(comparison.removed))}</p>"
                if comparison.removed
                else ""
            )
        )
    images = "".join(
        f'<figure><img alt="{esc(name)}" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode()}"></figure>'
        for name, png in charts.items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.25em .6em;text-align:left}}img{{max-width:100%}}</style>
</head><body><h1>{esc(title)}</h1>
<p>Rank 1 is the most important. Each cell: importance ± spread (that method's rank); the colour
is the method's rank, so the table is a features x methods heat map.</p>
<h2>Consensus ranking</h2><table><tr><th>rank</th><th>feature</th><th>type</th>{head}</tr>
{body}</table>
<h2>Agreement between methods</h2><p>Kendall's W: {agreement.kendall_w:.3f}</p><ul>{pairs}</ul>
<h3>Where the methods disagree most</h3><ul>{disputed or "<li>nowhere</li>"}</ul>
<h2>Sanity checks</h2><ul>{checks or "<li>not run (enable sanity_check)</li>"}</ul>
<h2>Compared with the previous version</h2>{compared}
<h2>Per method</h2>{images}
<h2>Where this comes from</h2><table>{ctx}</table>
</body></html>
"""


def audit_csv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """The registry audit table as CSV."""
    return _csv(header, rows)


def audit_html(
    header: Sequence[str], rows: Sequence[Sequence[Any]], *, report_links: Sequence[str | None]
) -> str:
    """The registry audit table as a self-contained page; each row links to its report."""
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in header) + "<th>report</th>"
    body = "".join(
        "<tr>"
        + "".join(f"<td>{esc('' if v is None else str(v))}</td>" for v in row)
        + (f'<td><a href="{esc(link)}">report</a></td>' if link else "<td></td>")
        + "</tr>"
        for row, link in zip(rows, report_links, strict=True)
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Registry audit'
        "</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}</style></head><body>"
        f"<h1>Registry audit</h1><table><tr>{head}</tr>{body}</table></body></html>\n"
    )
