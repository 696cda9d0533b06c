"""The report's charts: the rank heatmap shows the consensus' top rows of a wide model, each
labelled by the method's rank among all features."""

from __future__ import annotations

import io

import numpy as np

from importance_tasks.ranking import consensus
from importance_tasks.report.document import rank_heatmap_png
from tests.conftest import point_result


def _height(png: bytes) -> int:
    from PIL import Image

    return Image.open(io.BytesIO(png)).size[1]


def test_the_rank_heatmap_of_a_wide_model_shows_the_top_rows():
    rng = np.random.default_rng(0)
    wide = [point_result(m, rng.random(100)) for m in ("a", "b", "c")]
    narrow = [point_result(m, rng.random(12)) for m in ("a", "b", "c")]
    top30 = _height(rank_heatmap_png(wide, consensus(wide, k=5, seed=0)))
    all12 = _height(rank_heatmap_png(narrow, consensus(narrow, k=5, seed=0)))
    # 0.3 inch (30 px) per row at 100 dpi: 30 rows for the wide model, all 12 for the narrow
    assert abs((top30 - all12) - 30 * (30 - 12)) <= 10
