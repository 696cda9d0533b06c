"""Tables, plots and the HTML report of an analysis, as file contents (no I/O here)."""

from __future__ import annotations

import base64
import csv
import html
import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

from importance_tasks.columns import row_type
from importance_tasks.dependence import Dependence
from importance_tasks.ranking.comparison import Comparison
from importance_tasks.ranking.ranks import Agreement, Consensus, consensus_cells, interval_text
from importance_tasks.ranking.uncertainty import DEFAULT_TOP_K, rank_intervals
from importance_tasks.report.png_figure import png_figure
from importance_tasks.report.trust import (
    agreement_section,
    clusters_section,
    drift_paragraph,
    sanity_section,
)
from importance_tasks.result import Importance

__all__ = [
    "audit_csv",
    "audit_html",
    "bar_chart_png",
    "comparison_csv",
    "csv_text",
    "method_csv",
    "outputs_report_html",
    "rank_heatmap_png",
    "rankings_csv",
    "report_html",
    "step_heatmap_png",
]


def csv_text(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def method_csv(result: Importance, *, k: int = DEFAULT_TOP_K) -> str:
    """One method's table: a row per feature or group, most important first, with its 95%
    rank interval and chance of being in the top ``k``; for a sequence model, each variable's
    importance at each step of the window (``step_0`` the oldest), where the method gives it."""
    order = sorted(range(len(result.features)), key=lambda i: (result.rank[i], i))
    found = rank_intervals(result, k=k)
    by_step = result.diagnostics.get("by_step") or {}
    steps = max((len(v) for v in by_step.values()), default=0)
    return csv_text(
        [
            "feature",
            "importance",
            "std",
            "ci_low",
            "ci_high",
            "rank",
            "rank_low",
            "rank_high",
            f"p_top_{k}",
            "columns",
            *(f"step_{t}" for t in range(steps)),
        ],
        [
            [
                result.features[i],
                repr(float(result.mean[i])),
                repr(float(result.std[i])),
                repr(float(result.ci_low[i])),
                repr(float(result.ci_high[i])),
                int(result.rank[i]),
                int(found.low[i]),
                int(found.high[i]),
                repr(float(found.p_top[i])),
                " ".join(result.groups[result.features[i]]),
                *(repr(float(v)) for v in by_step.get(result.features[i], [])),
            ]
            for i in order
        ],
    )


def rankings_csv(results: Sequence[Importance], consensus: Consensus) -> str:
    """Features x methods ranks, with the consensus rank, its 95% interval, the chance of
    being in the top k, the rank shown (tied features share one) and the mean rank; each
    method's rank interval beside its rank. Consensus order."""
    order = sorted(range(len(consensus.features)), key=lambda i: (consensus.rank[i], i))
    intervals = consensus.intervals

    def method_interval(method: str, i: int) -> str:
        found = consensus.method_intervals.get(method)
        return "" if found is None else interval_text(int(found.low[i]), int(found.high[i]))

    return csv_text(
        [
            "feature", "consensus_rank", "rank_low", "rank_high", f"p_top_{intervals.k}",
            "shown_rank", "tied", "mean_rank",
            *(c for r in results for c in (r.method, f"{r.method}_interval")),
        ],
        [
            [
                consensus.features[i],
                int(consensus.rank[i]),
                int(intervals.low[i]),
                int(intervals.high[i]),
                repr(float(intervals.p_top[i])),
                int(consensus.shown_rank[i]),
                bool(consensus.tied[i]),
                repr(float(consensus.mean_rank[i])),
                *(c for r in results for c in (int(r.rank[i]), method_interval(r.method, i))),
            ]
            for i in order
        ],
    )  # fmt: skip


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
    return csv_text(["feature", "previous_rank", "current_rank", "moved_up_by"], rows)


def bar_chart_png(result: Importance, *, top: int = 30) -> bytes:
    """Horizontal bars of the top features with their 95% interval as error bars."""
    import numpy as np

    order = np.argsort(-result.mean, kind="stable")[:top][::-1]
    labels = [result.features[i] for i in order]
    width, height = 7.0, 0.9 + 0.3 * len(order)
    # Margins from the labels' length (0.07 inch a character): tight_layout draws to measure.
    left = min(0.6, (0.3 + 0.07 * max(map(len, labels), default=1)) / width)
    with png_figure((width, height), tight=False) as (fig, ax, png):
        fig.subplots_adjust(left=left, right=0.97, bottom=0.55 / height, top=1 - 0.35 / height)
        mean = result.mean[order]
        err = np.vstack([mean - result.ci_low[order], result.ci_high[order] - mean]).clip(min=0)
        ax.barh(
            labels,
            mean,
            xerr=err,
            color="#4477aa",
            ecolor="#222222",
            capsize=3,
        )
        ax.set_xlabel("importance (95% interval)")
        ax.set_title(result.method)
        ax.axvline(0, color="#888888", linewidth=0.8)
    return png.getvalue()


def rank_heatmap_png(
    results: Sequence[Importance], consensus: Consensus, *, top: int = 30
) -> bytes:
    """The consensus' top features x methods, coloured and labelled by each method's rank
    among all features (at most ``top`` rows, as the bar charts: a hundred were unreadable)."""
    import numpy as np

    order = np.argsort(consensus.rank, kind="stable")[:top]
    ranks = np.column_stack([r.rank[order] for r in results])
    size = (1.2 + 0.9 * len(results), 0.8 + 0.3 * len(order))
    shown = (
        ""
        if len(order) == len(consensus.features)
        else (f", top {len(order)} of {len(consensus.features)}")
    )
    with png_figure(size) as (fig, ax, png):
        image = ax.imshow(ranks, cmap="viridis_r", aspect="auto")
        ax.set_xticks(range(len(results)), [r.method for r in results], rotation=30, ha="right")
        ax.set_yticks(range(len(order)), [consensus.features[i] for i in order])
        middle = (float(ranks.min()) + float(ranks.max())) / 2
        for (i, j), value in np.ndenumerate(ranks):
            colour = "white" if value > middle else "black"  # readable on the colour
            ax.text(j, i, str(value), ha="center", va="center", fontsize=7, color=colour)
        fig.colorbar(image, ax=ax, label="rank (1 = most important)")
        ax.set_title(f"rank by method{shown}")
    return png.getvalue()


def step_heatmap_png(result: Importance) -> bytes:
    """A sequence model's variables x steps (oldest first), coloured by the importance of
    each variable at each step of the window (``diagnostics["by_step"]``)."""
    import numpy as np

    by_step = result.diagnostics["by_step"]
    values = np.array(list(by_step.values()), dtype=float)
    steps = values.shape[1]
    size = (1.6 + 0.35 * steps, 0.8 + 0.3 * len(by_step))
    with png_figure(size) as (fig, ax, png):
        image = ax.imshow(values, cmap="magma_r", aspect="auto")
        ax.set_xticks(range(steps), [str(t - steps + 1) for t in range(steps)])
        ax.set_xlabel("step (0 = the window's last)")
        ax.set_yticks(range(len(by_step)), list(by_step))
        fig.colorbar(image, ax=ax, label="importance")
        ax.set_title(f"{result.method} by step")
    return png.getvalue()


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
    dependence: Dependence | None = None,
    dependence_map: bytes | None = None,
    section: str = "",
    summary: Sequence[str] = (),
) -> str:
    """A self-contained HTML page (no scripts, fonts or images from the network); ``section``
    (HTML) goes after the consensus ranking; ``summary`` (sentences) and the first chart open
    the page, the wide tables scroll inside their box.
    ``column_types`` gives each column's type (a group's row shows its size); ``dependence``
    and its clustered map (``report_trust.dependence_map_png``) the clusters section."""
    types = dict(column_types or {})
    groups = {label: members for r in results for label, members in r.groups.items()}
    esc = html.escape
    rows = sorted(range(len(consensus.features)), key=lambda i: (consensus.rank[i], i))
    head = "".join(
        f"<th>{esc(r.method)}{' (left out)' if r.method in consensus.excluded else ''}</th>"
        for r in results
    )
    n = len(consensus.features)
    k = consensus.intervals.k

    def cluster_of(feature: str) -> str:
        if dependence is None or not dependence.partners(feature):
            return ""
        return "+".join(dependence.cluster_of(feature))

    def method_cell(r: Importance, i: int) -> str:
        found = consensus.method_intervals.get(r.method)
        shown = f"#{r.rank[i]}"
        if found is not None and found.low[i] != found.high[i]:
            shown += f" [{interval_text(int(found.low[i]), int(found.high[i]))}]"
        return (
            f'<td style="background:{_heat(int(r.rank[i]), n)}" '
            f'title="95% interval {r.ci_low[i]:.3g} to {r.ci_high[i]:.3g}">'
            f"{r.mean[i]:.3g} ± {r.std[i]:.2g} ({shown})</td>"
        )

    body = "".join(
        "<tr>"
        + "".join(f"<td>{esc(c)}</td>" for c in consensus_cells(consensus, i))
        + f"<td>{esc(consensus.features[i])}</td>"
        f"<td>{esc(row_type(consensus.features[i], types, groups))}</td>"
        f"<td>{esc(cluster_of(consensus.features[i]))}</td>"
        + "".join(method_cell(r, i) for r in results)
        + "</tr>"
        for i in rows
    )
    ctx = "".join(
        f"<tr><th>{esc(str(key))}</th><td>{esc(str(v))}</td></tr>" for key, v in context.items()
    )
    excluded = "".join(f"<li>{esc(m)}: {esc(why)}</li>" for m, why in consensus.excluded.items())
    compared = "<p>No earlier version with a complete analysis.</p>"
    if comparison is not None:
        moves = comparison.movers(len(comparison.features))
        up = "".join(f"<li>{esc(f)}: up {m}</li>" for f, m in moves if m > 0)
        down = "".join(f"<li>{esc(f)}: down {-m}</li>" for f, m in moves if m < 0)
        compared = (
            drift_paragraph(comparison)
            + f"<p>Rank correlation with the previous version: Spearman "
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
td,th{{border:1px solid #ccc;padding:.25em .6em;text-align:left}}img{{max-width:100%}}
.wide{{overflow-x:auto;max-width:100%}}</style>
</head><body><h1>{esc(title)}</h1>
{_first_screen(summary, charts)}
<p>Rank 1 is the most important. <b>=3</b> marks features too close to call: their 95% rank
intervals overlap that of the first feature of their group, and they share its rank. "in top
{k}" is the chance of being among the {k} most important when each method's ranking is redrawn
from its own noise (repeats, bootstrap resamples or rows). Each method cell: importance ±
spread (that method's rank [its 95% rank interval, when not a point]); the colour is that
rank.</p>
<h2>Consensus ranking</h2>
<p>Mean rank over {len(consensus.methods)} methods: {esc(", ".join(consensus.methods))}.</p>
{f"<p>Left out of the consensus:</p><ul>{excluded}</ul>" if excluded else ""}
<div class="wide"><table><tr><th>rank</th><th>95% rank interval</th><th>in top {k}</th>
<th>feature</th><th>type</th><th>cluster</th>{head}</tr>
{body}</table></div>
{section}
<h2>Correlated features</h2>{clusters_section(dependence, results, dependence_map)}
<h2>Agreement between methods</h2>{agreement_section(agreement, consensus, results, dependence)}
<h2>Sanity checks</h2>{sanity_section(results, consensus)}
<h2>Compared with the previous version</h2>{compared}
<h2>Per method</h2>{images}
<h2>Where this comes from</h2><table>{ctx}</table>
</body></html>
"""


def outputs_report_html(title: str, sections: Mapping[str, str]) -> str:
    """One page from the reports of several outputs (``report_html`` each): a section per
    output, its headings one level down."""
    esc = html.escape
    parts = []
    for output, page in sections.items():
        body = page[page.index("<body>") + len("<body>") : page.rindex("</body>")]
        for level in (3, 2, 1):
            body = body.replace(f"<h{level}>", f"<h{level + 1}>")
            body = body.replace(f"</h{level}>", f"</h{level + 1}>")
        parts.append(f'<section id="output-{esc(output)}">{body}</section>')
    head = re.sub(
        r"<title>.*?</title>", f"<title>{esc(title)}</title>", page[: page.index("<body>")]
    )
    links = "".join(f'<li><a href="#output-{esc(o)}">{esc(o)}</a></li>' for o in sections)
    return (
        f"{head}<body><h1>{esc(title)}</h1><p>The model's outputs, each analysed against its "
        f"own target:</p><ul>{links}</ul>{''.join(parts)}</body></html>\n"
    )


def _first_screen(summary: Sequence[str], charts: Mapping[str, bytes]) -> str:
    """The opening: the summary's sentences and the first chart (the ranks by method)."""
    if not summary:
        return ""
    items = "".join(f"<li>{html.escape(line)}</li>" for line in summary)
    name, png = next(iter(charts.items()), ("", b""))
    chart = (
        f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode()}"></figure>'
        if png
        else ""
    )
    return f'<section id="summary"><h2>In short</h2><ul>{items}</ul>{chart}</section>'


def audit_csv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """The registry audit table as CSV."""
    return csv_text(header, rows)


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
