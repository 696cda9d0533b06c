"""Thin DAG files for a deployment's DAG folder (``importance-tasks dags install DIR``).

Each file imports one of the package's DAG factories (``shipped_dags``) and calls it with the
deployment's defaults for its Params and its factory arguments (a ``schedule``, the monitor's
``notifiers`` imported from the deployment's own modules), so upgrading the package upgrades
the DAGs. A file ends with the checksum of what was written: a second install (given the same
defaults and arguments again) rewrites a file whose checksum still matches (the user has not
changed it), leaves alone one that is already current, and refuses to overwrite one the user
changed unless ``force``.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import pprint
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from importance_tasks.tables import write_text_atomically

__all__ = ["FactoryArgs", "Installed", "install_dags", "render"]

CHECKSUM = re.compile(r"\n# importance-tasks: sha256 ([0-9a-f]{64})\n\Z")
SUMMARIES = {
    "feature_importance": "Feature importance of registered Keras models",
    "registry_audit": "Registry audit",
    "promote_model": "Promotion gate",
    "importance_monitor": "Importance monitor",
}


@dataclass(frozen=True)
class FactoryArgs:
    """A shipped DAG's factory arguments beside its Params: its ``schedule`` (a cron
    expression or preset such as ``@daily``; None: the factory's own) and ``notifiers``, each
    ``module:name`` of an Airflow notifier the deployment's own code defines."""

    schedule: str | None = None
    notifiers: tuple[str, ...] = ()

    def imported(self) -> dict[str, Any]:
        """The arguments as the factory takes them (notifiers imported: a wrong path fails)."""
        found: dict[str, Any] = {} if self.schedule is None else {"schedule": self.schedule}
        if self.notifiers:
            found["notifiers"] = [_imported(path) for path in self.notifiers]
        return found


def _imported(path: str) -> Any:
    module, colon, name = path.partition(":")
    if not colon or not module or not name.isidentifier():
        raise ValueError(f"notifier {path!r}: expected MODULE:NAME")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"notifier {path!r} cannot be imported: {exc}") from None


@dataclass(frozen=True)
class Installed:
    """What an install did to one file: ``written``, ``updated``, ``unchanged`` or ``kept``
    (changed by the user, not overwritten)."""

    path: Path
    action: str


def render(dag_id: str, defaults: Mapping[str, Any], args: FactoryArgs | None = None) -> str:
    """The thin file for a shipped DAG with these Param defaults and factory arguments,
    checksum line included."""
    from importance_tasks import __version__

    factory = f"{dag_id}_dag"
    args = args or FactoryArgs()
    imports = "".join(
        f"from {path.partition(':')[0]} import {path.partition(':')[2]}\n"
        for path in args.notifiers
    )
    given = [f"schedule={args.schedule!r}"] if args.schedule is not None else []
    if args.notifiers:
        given.append(f"notifiers=[{', '.join(p.partition(':')[2] for p in args.notifiers)}]")
    if defaults:
        given.append(f"defaults={pprint.pformat(dict(defaults), width=80)}")
    arguments = ", ".join(given)
    body = (
        f'"""{SUMMARIES[dag_id]}: the `{dag_id}` DAG.\n\n'
        f"Written by importance-tasks {__version__}'s `dags install`, which updates this file\n"
        "while it is as written and leaves it alone once you change it (unless given --force).\n"
        "The DAG itself comes from the installed package; `defaults` are this deployment's\n"
        "Param defaults.\n"
        '"""\n\n'
        f"from importance_tasks.airflow.shipped_dags import {factory}\n{imports}\n"
        f"dag = {factory}({arguments})\n"
    )
    return body + f"\n# importance-tasks: sha256 {_digest(body)}\n"


def install_dags(
    folder: str | Path,
    *,
    defaults: Mapping[str, Mapping[str, Any]] | None = None,
    args: Mapping[str, FactoryArgs] | None = None,
    force: bool = False,
) -> list[Installed]:
    """Write the shipped DAGs' thin files into ``folder`` (created if missing).

    ``defaults`` maps a DAG id to its Param defaults, ``args`` to its factory arguments; each
    DAG is built with them first, so a wrong name or value fails before any file is written.
    Files are replaced atomically."""
    from importance_tasks.airflow.shipped_dags import SHIPPED_DAGS

    chosen, factory_args = dict(defaults or {}), dict(args or {})
    unknown = sorted((set(chosen) | set(factory_args)) - set(SHIPPED_DAGS))
    if unknown:
        raise ValueError(f"no shipped DAG {unknown}; they are {sorted(SHIPPED_DAGS)}")
    texts = {}
    for dag_id, factory in SHIPPED_DAGS.items():
        given = factory_args.get(dag_id, FactoryArgs())
        built = given.imported()
        takes = set(inspect.signature(factory).parameters)
        if set(built) - takes:
            raise ValueError(
                f"{dag_id} takes no {sorted(set(built) - takes)}; its factory takes {sorted(takes)}"
            )
        # Refuses a bad default, schedule or notifier before anything is written.
        factory(defaults=chosen.get(dag_id), **built)
        texts[dag_id] = render(dag_id, chosen.get(dag_id, {}), given)
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
