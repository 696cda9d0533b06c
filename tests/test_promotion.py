"""The promotion gate's rule on known cases."""

from __future__ import annotations

import pytest

from importance_tasks.contract import VersionStatus
from importance_tasks.errors import InputError
from importance_tasks.promotion import Decision, decide
from importance_tasks.stage.messages import PublishSummary

# An analysis as its Asset event carries it (``PublishSummary.event``), read back at the edge.
EVENT = {
    "model_name": "m", "model_version": "3", "status": VersionStatus.COMPLETE, "run_id": "r",
    "sanity": {"permutation": True, "shap": True}, "ndcg": 0.97, "drifted": False,
    "drift": "ndcg@5=0.970 ok", "top_features": ["a"], "excluded": {}, "tagged": True,
}  # fmt: skip
SANE = PublishSummary.from_event(EVENT)


def _with(**changed: object) -> PublishSummary:
    return PublishSummary.from_event({**EVENT, **changed})


def test_a_sane_version_that_did_not_drift_is_promoted():
    decision = decide(SANE)
    assert decision.action == "promote" and decision.reasons == ()
    assert Decision.from_dict(decision.to_dict()) == decision


def test_a_failed_sanity_check_or_drift_asks_a_person_and_says_why():
    failed = decide(_with(sanity={"permutation": True, "shap": False}))
    assert failed.action == "ask" and failed.reasons == ("failed the sanity check: shap",)
    drifted = decide(_with(ndcg=0.7, drifted=True, drift="ndcg@5=0.700 drifted"))
    assert drifted.action == "ask" and "ndcg@5=0.700 drifted" in drifted.reasons[0]
    stricter = decide(SANE, min_ndcg=0.99)  # the gate's own threshold wins over the analysis's
    assert stricter.action == "ask" and "0.970 < 0.99" in stricter.reasons[0]
    unchecked = decide(_with(sanity={}))
    assert unchecked.action == "ask" and unchecked.reasons == ("no sanity check was run",)
    assert decide(_with(sanity={}), require_sanity=False).action == "promote"


def test_the_first_version_has_no_drift_and_an_incomplete_analysis_is_skipped():
    first = _with(ndcg=None, drifted=None, drift=None)
    assert decide(first).action == "promote"
    assert decide(first, min_ndcg=0.9).action == "promote"  # nothing to drift from
    assert decide(_with(status="failed")).action == "skip"


def test_an_event_without_a_version_is_refused():
    with pytest.raises(InputError, match="names no analysed model version"):
        PublishSummary.from_event({"status": VersionStatus.COMPLETE})
    with pytest.raises(InputError, match="min_ndcg"):
        decide(SANE, min_ndcg=2)


def test_an_alias_never_moves_back_or_stays_put():
    assert decide(SANE, current="2").action == "promote"
    for current in ("3", "7"):
        older = decide(SANE, current=current)
        assert older.action == "skip" and older.reasons == (
            f"the alias is already at version {current}",
        )


def test_an_analysis_that_is_not_of_record_never_moves_the_alias():
    ad_hoc = decide(_with(tagged=False), require_sanity=False)
    assert ad_hoc.action == "skip" and "not the analysis of record" in ad_hoc.reasons[0]
    assert decide(_with(tagged=True), require_sanity=False).action == "promote"
