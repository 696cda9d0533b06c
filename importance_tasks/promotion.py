"""The promotion gate's rule: move an alias to a newly analysed version only when its importance
can be trusted and has not drifted; otherwise a person decides.

Pure: it reads the summary an analysis publishes (the ``extra`` of its Asset event, see
``importance_tasks.airflow.assets.analysis_event``) and says what to do. Moving the alias and
recording the decision is ``importance_tasks.mlflow_io.aliases``; the DAG is ``promote_model``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from importance_tasks.contract import VersionStatus
from importance_tasks.errors import InputError

__all__ = ["Decision", "decide"]

Action = Literal["promote", "ask", "skip"]


@dataclass(frozen=True)
class Decision:
    """What the gate does with one analysed version, and why.

    Attributes
    ----------
    model_name, model_version : str
    action : {"promote", "ask", "skip"}
        ``promote``: every check passed; ``ask``: a person approves or rejects; ``skip``: the
        analysis is not complete, there is nothing to decide on.
    reasons : tuple of str
        Why it is not promoted at once (empty for ``promote``).
    run_id : str or None
        The analysis run.
    """

    model_name: str
    model_version: str
    action: Action
    reasons: tuple[str, ...] = ()
    run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "model_version": self.model_version,
            "action": self.action,
            "reasons": list(self.reasons),
            "run_id": self.run_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        return cls(
            model_name=str(data["model_name"]),
            model_version=str(data["model_version"]),
            action=data["action"],
            reasons=tuple(data.get("reasons", ())),
            run_id=data.get("run_id"),
        )


def decide(
    analysis: Mapping[str, Any],
    *,
    require_sanity: bool = True,
    min_ndcg: float | None = None,
    current: str | None = None,
) -> Decision:
    """The gate's decision on one analysed version.

    Parameters
    ----------
    analysis : mapping
        The analysis summary: ``model_name``, ``model_version``, ``status``, ``sanity``
        (method -> passed), ``drifted`` and ``ndcg`` (None without a previous version), ``run_id``,
        ``tagged`` (False for an analysis that is not the version's analysis of record).
    require_sanity : bool, default=True
        Ask when no sanity check was run (with it, a failed method always asks).
    min_ndcg : float in [0, 1], optional
        nDCG@k against the previous version below which to ask; default: the analysis's own
        verdict (``drifted``, from its ``drift_threshold``).
    current : str, optional
        The version the alias points to now: an alias never moves back to an older version
        or stays put (a registry audit analyses old versions too), so such a version is
        skipped.
    """
    name, version = analysis.get("model_name"), analysis.get("model_version")
    if not name or not version:
        raise InputError(f"the analysis event names no model version: {dict(analysis)!r}")
    if min_ndcg is not None and not 0 <= min_ndcg <= 1:
        raise InputError(f"min_ndcg={min_ndcg!r} is not allowed; it must be in [0, 1]")
    run_id = analysis.get("run_id")
    if analysis.get("status") != VersionStatus.COMPLETE:
        status = analysis.get("status")
        return Decision(str(name), str(version), "skip", (f"analysis status {status!r}",), run_id)
    if analysis.get("tagged") is False:
        why = "not the analysis of record (other settings than the stage's; its tags were left)"
        return Decision(str(name), str(version), "skip", (why,), run_id)
    if current is not None and int(current) >= int(version):
        why = f"the alias is already at version {current}"
        return Decision(str(name), str(version), "skip", (why,), run_id)
    reasons = []
    sanity = dict(analysis.get("sanity") or {})
    failed = sorted(m for m, passed in sanity.items() if not passed)
    if failed:
        reasons.append(f"failed the sanity check: {', '.join(failed)}")
    elif require_sanity and not sanity:
        reasons.append("no sanity check was run")
    ndcg = analysis.get("ndcg")
    if min_ndcg is not None and ndcg is not None:
        if ndcg < min_ndcg:
            reasons.append(f"the top features drifted: nDCG {ndcg:.3f} < {min_ndcg:g}")
    elif analysis.get("drifted"):
        reasons.append(f"the top features drifted: {analysis.get('drift')}")
    return Decision(
        str(name), str(version), "ask" if reasons else "promote", tuple(reasons), run_id
    )
