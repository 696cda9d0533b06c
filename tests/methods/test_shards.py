"""Row shards: parts computed apart (here: out of order, through JSON) combine into exactly the
losses over all rows, so a sharded analysis equals the same analysis in one piece.

"Exactly" is the combination's float64 arithmetic. A shard feeds the model batches of another
shape than the whole, and a float32 forward pass is not bitwise equal across batch shapes or
processors, so results are compared within ``importance_atol`` (``tests/precision.py``), and
each comparison also runs with a one-copy batch budget so that a dependence on batch shape
shows on every machine."""

from __future__ import annotations

import dataclasses
import itertools
import json

import numpy as np
import pytest

from importance_tasks.data import EvalData
from importance_tasks.errors import InputError
from importance_tasks.methods import Permutation, Probe
from importance_tasks.methods.shards import ShardPart, shard_bounds, shard_count
from importance_tasks.scoring import get_scorer
from tests.precision import BATCH_BUDGETS, assert_within, importance_atol


def _parts_apart(method, model, data, **kwargs):
    """Each shard computed on its own, serialised as a task would log it, in reverse order."""
    count = method.n_shards(data.n_rows)
    parts = [
        ShardPart.from_record(
            json.loads(json.dumps(method.compute_shard(model, data, shard=k, **kwargs).to_record()))
        )
        for k in reversed(range(count))
    ]
    return count, parts


def test_shards_cover_the_rows_once_balanced():
    for n_rows, size in [(10, 3), (1000, 300), (7, 7), (1_000_000, 250_000)]:
        count = shard_count(n_rows, size)
        bounds = [shard_bounds(n_rows, count, k) for k in range(count)]
        assert bounds[0][0] == 0 and bounds[-1][1] == n_rows
        assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
        assert max(hi - lo for lo, hi in bounds) <= size


@pytest.mark.parametrize("max_batch_bytes", BATCH_BUDGETS)
@pytest.mark.parametrize("scoring", ["mse", "mae"])
def test_sharded_permutation_equals_one_pass_over_all_rows(friedman, scoring, max_batch_bytes):
    """The combined importance equals the loss increase computed in one pass over all rows
    with each shard's own permutation applied to its block of rows."""
    model, data = friedman.model, friedman.data
    method = Permutation(
        n_repeats=3, random_state=7, shard_rows=300, max_batch_bytes=max_batch_bytes
    )
    count, parts = _parts_apart(method, model, data, scoring=scoring)
    assert count == 4
    sharded = method.combine(parts)
    assert sharded.settings["n_shards"] == 4
    # The same shards in one process feed the model the same batches; only the float64 sum
    # over parts runs in another order (the parts above came in reverse).
    in_process = method.compute(model, data, scoring=scoring).mean
    np.testing.assert_allclose(sharded.mean, in_process, rtol=1e-12, atol=1e-15)

    # The same numbers, built independently: permute each block with its shard's generator
    # exactly as documented, then score all rows at once.
    scorer = get_scorer(scoring, output=model.predict(data.X), y=data.y)
    base = scorer.loss(data.y, model.predict(data.X))
    expected = np.empty((data.X.shape[1], 3))
    blocks = [shard_bounds(data.n_rows, count, k) for k in range(count)]
    generators = [np.random.default_rng([7, k]) for k in range(count)]
    block_perms = [
        np.stack([g.permutation(hi - lo) for _ in range(3)])
        for g, (lo, hi) in zip(generators, blocks, strict=True)
    ]
    for j in range(data.X.shape[1]):
        for r in range(3):
            X = data.X.copy()
            for (lo, hi), p in zip(blocks, block_perms, strict=True):
                X[lo:hi, j] = data.X[lo:hi, j][p[r]]
            expected[j, r] = scorer.loss(data.y, model.predict(X)) - base
    atol = importance_atol(model, data.X, data.y, expected, scoring=scoring)
    assert_within(sharded.repeats, expected, atol)
    assert set(np.argsort(-sharded.mean)[:5]) == set(range(5))  # still the known answer


@pytest.mark.parametrize("max_batch_bytes", BATCH_BUDGETS)
def test_sharded_occlusion_equals_unsharded(friedman, three_classes, max_batch_bytes):
    """Occlusion's importance has no randomness: shards must reproduce it to the forward pass's
    rounding (regression and classification losses); the bootstrap spread stays comparable."""
    for trained, scoring in ((friedman, "mse"), (three_classes, "log_loss")):
        whole = Probe(random_state=0).compute(trained.model, trained.data, scoring=scoring)
        method = Probe(random_state=0, shard_rows=150, max_batch_bytes=max_batch_bytes)
        count, parts = _parts_apart(method, trained.model, trained.data, scoring=scoring)
        assert count > 1
        sharded = method.combine(parts)
        data = trained.data
        atol = importance_atol(trained.model, data.X, data.y, whole.mean, scoring=scoring)
        assert_within(sharded.mean, whole.mean, atol)
        np.testing.assert_allclose(sharded.std, whole.std, rtol=0.6)


@pytest.mark.parametrize("max_batch_bytes", BATCH_BUDGETS)
def test_weighted_rows_combine_by_their_weight(friedman, max_batch_bytes):
    data = friedman.data
    weight = np.random.default_rng(0).random(data.n_rows) * 3
    weighted = EvalData(X=data.X, y=data.y, feature_names=data.feature_names, sample_weight=weight)
    whole = Probe(random_state=0).compute(friedman.model, weighted)
    sharded = Probe(random_state=0, shard_rows=333, max_batch_bytes=max_batch_bytes).compute(
        friedman.model, weighted
    )
    atol = importance_atol(
        friedman.model, data.X, data.y, whole.mean, scoring="mse", sample_weight=weight
    )
    assert_within(sharded.mean, whole.mean, atol)


def _drop_first_shard_weight(parts):
    """A broken combination: the first shard's losses count as if it held one unit of weight."""
    from importance_tasks.methods.shards import combine_losses

    broken = dataclasses.replace(
        parts[0], weights={k: np.ones_like(v) for k, v in parts[0].weights.items()}
    )
    return combine_losses([broken, *parts[1:]])


def test_a_dropped_shard_weight_falls_outside_the_tolerance(friedman, monkeypatch):
    """The tolerances above are tight enough to catch a wrong combination rule."""
    import importance_tasks.methods.probe as probe_module

    monkeypatch.setattr(probe_module, "combine_losses", _drop_first_shard_weight)
    data = friedman.data
    weight = np.random.default_rng(0).random(data.n_rows) * 3
    for sample_weight, shard_rows in ((None, 150), (weight, 333)):
        weighted = EvalData(
            X=data.X, y=data.y, feature_names=data.feature_names, sample_weight=sample_weight
        )
        whole = Probe(random_state=0).compute(friedman.model, weighted)
        sharded = Probe(random_state=0, shard_rows=shard_rows).compute(friedman.model, weighted)
        atol = importance_atol(
            friedman.model, data.X, data.y, whole.mean, scoring="mse", sample_weight=sample_weight
        )
        assert np.any(np.abs(sharded.mean - whole.mean) > atol)


def test_losses_that_are_not_means_over_rows_refuse_shards(friedman):
    with pytest.raises(InputError, match=r"r2.* not a mean over rows"):
        Permutation(shard_rows=300).compute(friedman.model, friedman.data, scoring="r2")
    one_piece = Permutation(shard_rows=10_000).compute(friedman.model, friedman.data, scoring="r2")
    assert one_piece.settings["n_shards"] == 1


def test_missing_or_repeated_parts_are_refused(friedman):
    method = Permutation(n_repeats=2, random_state=0, shard_rows=400)
    _, parts = _parts_apart(method, friedman.model, friedman.data)
    with pytest.raises(InputError, match="exactly once"):
        method.combine(parts[:-1])
    with pytest.raises(InputError, match="exactly once"):
        method.combine([*parts, parts[0]])
