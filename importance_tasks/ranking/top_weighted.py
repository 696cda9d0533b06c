"""Agreement measures that weigh the top of a ranking more than its tail.

Kendall's W and Spearman's rho weigh a swap at ranks 90 and 91 as much as one at ranks 1 and 2;
a reader of an importance ranking cares about the top. Two measures here:

- ``rbo``: rank-biased overlap (Webber, Moffat & Zobel 2010), the agreement of two rankings
  at every depth, weighted geometrically by ``p`` (with p = 0.9 the first 10 ranks carry
  about 86% of the weight). For two complete rankings of the same items the tail beyond the
  last depth is known exactly (every item is seen by then), so the value is exact, not
  extrapolated: ``(1 - p) * sum_{d=1..n} p^(d-1) * overlap(d) / d + p^n``.
- ``ndcg_at_k``: scikit-learn's normalised discounted cumulative gain of a ranking against a
  reference one, with graded relevance ``k + 1 - reference rank`` for the reference's top ``k``
  (0 below);
  1 when the top ``k`` is the same in the same order, 0 when none of it is in the top ``k``.
  SageMaker Clarify uses nDCG for attribution drift and flags values below 0.9; it takes the
  baseline's attribution values as relevance, which here would mix the methods' scales, so the
  reference's ranks are used.

``rbo`` is written here rather than taken from a package: a few lines of exact arithmetic, where
the package that exists (``rbo``) computes the extrapolated variant for lists of unequal length.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["RBO_P", "ndcg_at_k", "rbo"]

RBO_P = 0.9


def rbo(first: Sequence[str], second: Sequence[str], *, p: float = RBO_P) -> float:
    """Rank-biased overlap of two orderings of the same items (best first), in [0, 1].

    Parameters
    ----------
    first, second : sequence of str
        The same items, each in its ranking's order.
    p : float in (0, 1), default=0.9
        Persistence: how far down the ranking the weight reaches.

    References
    ----------
    W. Webber, A. Moffat, J. Zobel, "A similarity measure for indefinite rankings", ACM TOIS
    28(4), 2010, eq. 32. doi:10.1145/1852102.1852106
    """
    if not 0 < p < 1:
        raise ValueError(f"p={p!r} is not allowed; it must be in (0, 1)")
    if sorted(first) != sorted(second) or len(set(first)) != len(first):
        raise ValueError("rbo needs two orderings of the same distinct items")
    n = len(first)
    if n == 0:
        return 1.0
    seen_first: set[str] = set()
    seen_second: set[str] = set()
    overlap = 0
    total = 0.0
    for depth in range(1, n + 1):
        a, b = first[depth - 1], second[depth - 1]
        if a == b:
            overlap += 1
        else:
            overlap += (a in seen_second) + (b in seen_first)
        seen_first.add(a)
        seen_second.add(b)
        total += p ** (depth - 1) * overlap / depth
    return float((1 - p) * total + p**n)


def ndcg_at_k(reference: Mapping[str, float], current: Mapping[str, float], *, k: int) -> float:
    """nDCG@k of ``current``'s ranking with relevance from ``reference``'s ranks:
    scikit-learn's ``ndcg_score`` (features tied in ``current`` share their positions' gain).

    Parameters
    ----------
    reference, current : mapping of feature to rank (1 = most important)
        Only features both rank are compared.
    k : int >= 1
    """
    from sklearn.metrics import ndcg_score

    if k < 1:
        raise ValueError(f"k={k!r} is not allowed; it must be >= 1")
    common = [f for f in current if f in reference]
    if not common:
        return float("nan")
    k = min(k, len(common))
    relevance = [max(k + 1 - float(reference[f]), 0.0) for f in common]
    if len(common) == 1 or not any(relevance):  # nothing of the reference's top k to find
        return 1.0 if len(common) == 1 and relevance[0] else float("nan")
    score = [-float(current[f]) for f in common]
    return float(ndcg_score([relevance], [score], k=k))
