"""The report of an analysis, as file contents (no I/O here): the HTML report and the audit's,
their tables and charts (``document``); the sections on how far a ranking can be trusted
(``trust``); one matplotlib figure as PNG bytes (``png_figure``)."""

from importance_tasks.report.document import audit_html, report_html

__all__ = ["audit_html", "report_html"]
