"""Rankings and how far to trust them: each method's ranks and their consensus, with the
agreement between methods (``ranks``); rank intervals, the chance of being in the top k and
ties (``uncertainty``); agreement measures that weigh the top most (``top_weighted``); one
version's ranking against the previous version's (``comparison``)."""

from importance_tasks.ranking.comparison import Comparison, compare
from importance_tasks.ranking.ranks import Agreement, Consensus, agreement, consensus
from importance_tasks.ranking.uncertainty import RankIntervals

__all__ = [
    "Agreement",
    "Comparison",
    "Consensus",
    "RankIntervals",
    "agreement",
    "compare",
    "consensus",
]
