"""Progress a person can follow: log lines in a task, a bar per method on a terminal."""

from __future__ import annotations

import io

from importance_tasks.progress import LogProgress, TerminalProgress


def test_task_progress_logs_the_first_the_last_and_one_line_per_interval():
    lines: list[str] = []
    progress = LogProgress(lines.append, "sage", every_s=10.0)
    for done in range(128, 1280 + 1, 128):  # ten quick reports
        progress(done, 1280)
    assert len(lines) == 2  # the first and the last, none in between (under 10 s)
    assert lines[0].startswith("sage: 128/1,280 orderings, 0 s, about ")
    assert lines[-1].startswith("sage: 1,280/1,280 orderings, ")
    every = []
    LogProgress(every.append, "permutation shard 2", every_s=0.0)(5, 50)
    assert every == [every[0]] and "5/50 copies" in every[0]


def test_terminal_progress_draws_one_bar_per_method_that_may_grow():
    stream = io.StringIO()
    progress = TerminalProgress(stream)
    progress("shap", 4, 200)
    progress("sage", 128, 256)
    progress("sage", 512, 512)  # SAGE's total is an estimate until it converges
    progress("shap", 200, 200)
    text = stream.getvalue()
    assert "shap: 100%" in text and "200/200" in text and "512/512" in text
    assert "orderings" in text and "rows" in text
