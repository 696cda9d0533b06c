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


def test_in_short_names_only_pairs_that_act_together_and_no_negligible_feature():
    """An additive model's pairs (H² near 0, intervals reaching 0) are not named as acting
    together; a negligible feature gets its own sentence and no direction."""
    import dataclasses

    from importance_tasks.effects.accumulated import Effect
    from importance_tasks.effects.interaction import Interactions, Pair
    from importance_tasks.effects.steps import InteractionsAndEffects
    from importance_tasks.ranking.ranks import consensus
    from importance_tasks.report.steps_section import first_screen
    from tests.conftest import point_result

    combined = consensus([point_result("shap", [3.0, 2.0, 0.01], ["income", "region", "x2"])])
    pair = Pair(("income", "region"), 0.01, 0.004, (0.0, 0.02), (0.0, 0.02))
    effects = {n: Effect("ale", [0.0, 1.0], [0.0, 1.0], [[0.0, 0.0], [1.0, 1.0]], d, 0)
               for n, d in (("income", "rises"), ("x2", "falls"))}  # fmt: skip
    steps = InteractionsAndEffects(Interactions((pair,), {}, 0, 0), effects)
    text = " ".join(first_screen(combined, [], steps, [], negligible=("x2",)))
    assert "Acting together most" not in text and "No pair among the top features" in text
    assert "Barely used (negligible by every method): x2." in text
    assert "income rises" in text and "x2 falls" not in text
    material = dataclasses.replace(pair, h2=0.3, interval=(0.2, 0.4))
    steps = InteractionsAndEffects(Interactions((material,), {}, 0, 0))
    text = " ".join(first_screen(combined, [], steps, []))
    assert "Acting together most: income and region (H² 0.30" in text
