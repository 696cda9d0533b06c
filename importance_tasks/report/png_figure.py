"""One matplotlib figure rendered to PNG bytes, closed whatever happens (the report's charts)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["png_figure"]


@contextmanager
def png_figure(
    figsize: tuple[float, float], *, tight: bool = True
) -> Iterator[tuple[Any, Any, io.BytesIO]]:
    """A figure with one axes at 100 dpi on the Agg backend; when the block ends without an
    error, the figure is laid out (``tight``; else the block set its margins) and saved into
    the yielded buffer as PNG. Always closed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize, dpi=100)
    buffer = io.BytesIO()
    try:
        yield fig, ax, buffer
        if tight:
            fig.tight_layout()
        fig.savefig(buffer, format="png")
    finally:
        plt.close(fig)
