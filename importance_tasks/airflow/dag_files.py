"""Thin DAG files for a deployment's DAG folder (``importance-tasks dags install DIR``).

Each file imports one of the package's DAG factories (``shipped_dags``) and calls it with the
deployment's defaults for its Params, so upgrading the package upgrades the DAGs. A file ends
with the checksum of what was written: a second install rewrites a file whose checksum still
matches (the user has not changed it), leaves alone one that is already current, and refuses to
overwrite one the user changed unless ``force``.
"""

from __future__ import annotations

import hashlib
import pprint
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from importance_tasks.tables import write_text_atomically

__all__ = ["Installed", "install_dags", "render"]

CHECKSUM = re.compile(r"\n# importance-tasks: sha256 ([0-9a-f]{64})\n\Z")
SUMMARIES = {
    "feature_importance": "Feature importance of registered Keras models",
    "registry_audit": "Registry audit",
    "promote_model": "Promotion gate",
}


@dataclass(frozen=True)
class Installed:
    """What an install did to one file: ``written``, ``updated``, ``unchanged`` or ``kept``
    (changed by the user, not overwritten)."""

    path: Path
    action: str


def render(dag_id: str, defaults: Mapping[str, Any]) -> str:
    """The thin file for a shipped DAG with these Param defaults, checksum line included."""
    from importance_tasks import __version__

    factory = f"{dag_id}_dag"
    arguments = f"defaults={pprint.pformat(dict(defaults), width=80)}" if defaults else ""
    body = (
        f'"""{SUMMARIES[dag_id]}: the `{dag_id}` DAG.\n\n'
        f"Written by importance-tasks {__version__}'s `dags install`, which updates this file\n"
        "while it is as written and leaves it alone once you change it (unless given --force).\n"
        "The DAG itself comes from the installed package; `defaults` are this deployment's\n"
        "Param defaults.\n"
        '"""\n\n'
        f"from importance_tasks.airflow.shipped_dags import {factory}\n\n"
        f"dag = {factory}({arguments})\n"
    )
    return body + f"\n# importance-tasks: sha256 {_digest(body)}\n"


def install_dags(
    folder: str | Path,
    *,
    defaults: Mapping[str, Mapping[str, Any]] | None = None,
    force: bool = False,
) -> list[Installed]:
    """Write the three shipped DAGs' thin files into ``folder`` (created if missing).

    ``defaults`` maps a DAG id to its Param defaults; each DAG is built with them first, so a
    wrong name or value fails before any file is written. Files are replaced atomically."""
    from importance_tasks.airflow.shipped_dags import SHIPPED_DAGS

    chosen = dict(defaults or {})
    unknown = sorted(set(chosen) - set(SHIPPED_DAGS))
    if unknown:
        raise ValueError(f"no shipped DAG {unknown}; they are {sorted(SHIPPED_DAGS)}")
    texts = {}
    for dag_id, factory in SHIPPED_DAGS.items():
        factory(defaults=chosen.get(dag_id))  # refuses a bad default before anything is written
        texts[dag_id] = render(dag_id, chosen.get(dag_id, {}))
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    done = []
    for dag_id, text in texts.items():
        path = target / f"{dag_id}.py"
        action = _action(path, text, force=force)
        if action in ("written", "updated"):
            write_text_atomically(path, text)
        done.append(Installed(path, action))
    return done


def _action(path: Path, text: str, *, force: bool) -> str:
    if not path.exists():
        return "written"
    current = path.read_text()
    if current == text:
        return "unchanged"
    found = CHECKSUM.search(current)
    as_written = found is not None and found.group(1) == _digest(current[: found.start()])
    return "updated" if as_written or force else "kept"


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()
