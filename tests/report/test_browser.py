"""The HTML report renders in headless Chromium with no console errors and no network."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from importance_tasks.analysis import explain
from importance_tasks.ranking.comparison import compare
from importance_tasks.ranking.ranks import agreement
from importance_tasks.report.document import (
    audit_html,
    bar_chart_png,
    rank_heatmap_png,
    report_html,
)

pytestmark = pytest.mark.integration
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _chromium() -> str:
    if not Path(CHROMIUM).exists():
        message = "chromium is not installed (Debian package 'chromium')"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; .ci/run installs it")
        pytest.skip(message)
    return CHROMIUM


def _open(path: Path, screenshot: Path) -> dict:
    from playwright.sync_api import sync_playwright

    seen: dict = {"errors": [], "requests": [], "images": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on(
                "console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None
            )
            page.on("pageerror", lambda e: seen["errors"].append(str(e)))
            page.on("request", lambda r: seen["requests"].append(r.url))
            page.goto(path.as_uri(), wait_until="load")
            seen["images"] = page.eval_on_selector_all(
                "img", "els => els.map(e => [e.alt, e.complete && e.naturalWidth > 0])"
            )
            seen["title"] = page.title()
            seen["page_scrolls"] = page.evaluate(
                "document.documentElement.scrollWidth > document.documentElement.clientWidth"
            )
            seen["text"] = page.inner_text("body")
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return seen


def _report(friedman) -> str:
    from importance_tasks.report.steps_section import effects_png, first_screen, steps_html

    analysis = explain(
        friedman.model,
        friedman.data,
        methods=["permutation", "probe", "weights"],
        seed=0,
        sanity_check=True,
    )
    results = list(analysis.results.values())
    previous = {
        f: int(r)
        for f, r in zip(analysis.consensus.features, analysis.consensus.rank[::-1], strict=True)
    }
    current = {
        f: int(r) for f, r in zip(analysis.consensus.features, analysis.consensus.rank, strict=True)
    }
    steps = analysis.steps
    drawn = {"effects": effects_png(steps.effects)}
    return report_html(
        section=steps_html(steps, drawn),
        summary=first_screen(analysis.consensus, results, steps, analysis.dependence.clusters),
        title="Feature importance: friedman v2",
        context={"model": "friedman version 2", "data digest": "abc123", "rows": 1000},
        results=results,
        consensus=analysis.consensus,
        agreement=agreement(results),
        comparison=compare(previous, current),
        charts={
            "ranks by method": rank_heatmap_png(results, analysis.consensus),
            **{r.method: bar_chart_png(r) for r in results},
        },
    )


def test_report_renders_offline_without_errors(friedman, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(_report(friedman))
    shot = Path(os.environ.get("REPORT_SCREENSHOT_DIR", tmp_path)) / "report.png"
    seen = _open(page, shot)
    assert seen["errors"] == []
    assert all(url.startswith(("file:", "data:")) for url in seen["requests"]), seen["requests"]
    assert seen["title"] == "Feature importance: friedman v2"
    # the first screen's chart, the ranks, 3 methods, the effects of the top features
    assert len(seen["images"]) == 5 + 1 and all(ok for _, ok in seen["images"]), seen["images"]
    assert seen["page_scrolls"] is False  # 1280 px: the wide tables scroll in their boxes
    assert seen["text"].index("In short") < seen["text"].index("Consensus ranking")
    assert "Most important, in order:" in seen["text"] and "Which way" in seen["text"]
    for heading in (
        "Consensus ranking",
        "Acting together, and which way",
        "Agreement between methods",
        "Sanity checks",
        "Compared with the previous version",
        "Moved up",
        "Where this comes from",
    ):
        assert heading in seen["text"]
    assert "abc123" in seen["text"] and "passed" in seen["text"]
    assert shot.stat().st_size > 10_000


def test_audit_page_renders(tmp_path):
    page = tmp_path / "audit.html"
    page.write_text(
        audit_html(
            ["model", "version", "status"],
            [["m", "1", "analysed"], ["m", "2", "missing"]],
            report_links=["report.html", None],
        )
    )
    seen = _open(page, tmp_path / "audit.png")
    assert seen["errors"] == [] and "analysed" in seen["text"]
    assert all(url.startswith(("file:", "data:")) for url in seen["requests"])
