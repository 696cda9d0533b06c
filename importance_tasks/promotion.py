"""The promotion gate's rule: move an alias to a newly analysed version only when its importance
can be trusted and has not drifted; otherwise a person decides.

Pure: it reads the summary an analysis publishes (``PublishSummary``, the ``extra`` of its
Asset event read back with ``PublishSummary.from_event``) and says what to do. Moving the alias and
recording the decision is ``importance_tasks.mlflow_io.aliases``; the DAG is ``promote_model``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from importance_tasks.contract import VersionStatus
from importance_tasks.setting_schema import checked_value

if TYPE_CHECKING:
    from importance_tasks.stage.messages import PublishSummary

__all__ = ["MIN_NDCG", "Decision", "decide"]

# The gate's own drift threshold, declared once: its DAG Param and ``decide`` check it.
MIN_NDCG: dict[str, Any] = {"type": ["null", "number"], "minimum": 0, "maximum": 1}

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
    analysis: PublishSummary,
    *,
    require_sanity: bool = True,
    min_ndcg: float | None = None,
    current: str | None = None,
) -> Decision:
    """The gate's decision on one analysed version.

    Parameters
    ----------
    analysis : PublishSummary
        The analysis: its version, ``status``, ``sanity`` (method -> passed), ``drifted`` and
        ``ndcg`` (None without a previous version), ``run_id``, ``tagged`` (False for an
        analysis that is not the version's analysis of record).
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
    name, version, run_id = analysis.model_name, analysis.model_version, analysis.run_id
    min_ndcg = checked_value("min_ndcg", min_ndcg, MIN_NDCG)
    if analysis.status != VersionStatus.COMPLETE:
        status = analysis.status
        return Decision(str(name), str(version), "skip", (f"analysis status {status!r}",), run_id)
    if analysis.tagged is False:
        why = "not the analysis of record (other settings than the stage's; its tags were left)"
        return Decision(str(name), str(version), "skip", (why,), run_id)
    if current is not None and int(current) >= int(version):
        why = f"the alias is already at version {current}"
        return Decision(str(name), str(version), "skip", (why,), run_id)
    reasons = []
    sanity = dict(analysis.sanity)
    failed = sorted(m for m, passed in sanity.items() if not passed)
    if failed:
        reasons.append(f"failed the sanity check: {', '.join(failed)}")
    elif require_sanity and not sanity:
        reasons.append("no sanity check was run")
    ndcg = analysis.ndcg
    if min_ndcg is not None and ndcg is not None:
        if ndcg < min_ndcg:
            reasons.append(f"the top features drifted: nDCG {ndcg:.3f} < {min_ndcg:g}")
    elif analysis.drifted:
        reasons.append(f"the top features drifted: {analysis.drift}")
    return Decision(
        str(name), str(version), "ask" if reasons else "promote", tuple(reasons), run_id
    )
