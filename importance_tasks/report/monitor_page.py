"""The monitoring report (``monitor/report.html``): what the last window says first, then a
trend chart per top feature with the baseline's 95% band."""

from __future__ import annotations

import base64
import datetime as dt
import html
from collections.abc import Mapping, Sequence
from typing import Any

from importance_tasks.report.png_figure import png_figure

__all__ = ["monitor_report_html", "trend_png"]

EPOCH = dt.date(1970, 1, 1)


def trend_png(
    feature: str, points: Sequence[tuple[int, float]], band: tuple[float, float, float]
) -> bytes:
    """One feature's importance per window (x: the window's day) over the baseline's band."""
    mean, low, high = band
    days = [EPOCH + dt.timedelta(days=int(step)) for step, _ in points]
    with png_figure((6.0, 2.2)) as (fig, ax, png):
        ax.axhspan(low, high, color="#cccccc", label="baseline 95%")
        ax.axhline(mean, color="#888888", linewidth=0.8)
        ax.plot(days, [v for _, v in points], marker="o", color="#4477aa", label="window")
        ax.set_title(feature)
        ax.set_ylabel("importance")
        fig.autofmt_xdate()
        ax.legend(loc="best", fontsize="small")
    return png.getvalue()


def monitor_report_html(
    *,
    title: str,
    latest: Mapping[str, Any],
    bands: Mapping[str, Mapping[str, tuple[float, float, float]]],
    history: Mapping[str, Mapping[str, Sequence[tuple[int, float]]]],
) -> str:
    """The page: ``latest`` is the last window's record (``monitor/<ds>.json``); ``bands``
    and ``history`` give, per output (``""`` for a model's one output), each charted
    feature's baseline (mean, low, high) and its (day, importance) points."""
    e = html.escape
    drifted = latest.get("drifted") or []
    lines = [
        f"<p><b>Window {e(str(latest['window']))}: "
        + ("importance drift" if drifted else "no importance drift")
        + f"</b> (modes: {e(', '.join(latest.get('modes', [])))}; nDCG@k against the baseline "
        f"{float(latest.get('ndcg', float('nan'))):.3f}).</p>"
    ]
    if drifted:
        items = "".join(f"<li><b>{e(_label(d))}</b>: {e(str(d['reason']))}</li>" for d in drifted)
        lines.append(f"<ul>{items}</ul>")
    moved = latest.get("data_drift") or []
    lines.append(
        "<p>Columns whose distribution moved: "
        + (e(", ".join(map(str, moved))) if moved else "none")
        + "</p>"
    )
    charts = []
    for output, features in history.items():
        if output:
            charts.append(f"<h3>{e(output)}</h3>")
        for feature, points in features.items():
            png = trend_png(feature, points, bands[output][feature])
            data = base64.b64encode(png).decode()
            charts.append(f'<img alt="{e(feature)}" src="data:image/png;base64,{data}">')
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{e(title)}</title></head><body><h1>{e(title)}</h1>"
        "<h2>In short</h2>" + "".join(lines) + "<h2>Importance per window</h2>"
        "<p>Each chart: the first method's importance on each window of new data (label-free: "
        "the model's own prediction explained), over the baseline's 95% band (the same "
        "analysis of the version's evaluation data).</p>" + "".join(charts) + "</body></html>"
    )


def _label(flag: Mapping[str, Any]) -> str:
    output = flag.get("output")
    return f"{output}: {flag['feature']}" if output else str(flag["feature"])
