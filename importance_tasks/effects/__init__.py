"""What the ranking does not say: which features act together (``interaction``: Friedman's
H-statistic for pairs) and which way each one pushes (``accumulated``: accumulated local
effects, partial dependence and ICE beside them). Both are analysis steps on the top features
of the consensus, not importance methods."""

from importance_tasks.effects.accumulated import Effect, accumulated_effect, category_effect
from importance_tasks.effects.interaction import Interactions, Pair, interactions

__all__ = [
    "Effect",
    "Interactions",
    "Pair",
    "accumulated_effect",
    "category_effect",
    "interactions",
]
