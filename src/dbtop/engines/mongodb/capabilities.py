"""What a MongoDB deployment lets dbtop show and do, and the notices of what is missing.

The Slow queries pane counts the profiler's entries only where the profiler is on; on a
mongos there is no profiler to read (each shard writes its own system.profile) nor one to
switch. Kill and the profiler switch are writes: ``EngineBase.declare`` drops them under
--read-only. Some notices are learned once (a privilege refused) and kept across polls:
they live in ``StickyNotices``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dbtop.engines.mongodb import shell
from dbtop.model import Feature, Notice, PaneLabels, Severity

LABELS = PaneLabels(
    sessions="Operations", statements="Slow queries", indexes="Indexes", locks="Locks"
)
#: the slow threshold when the server does not say (MongoDB's default slowms)
DEFAULT_SLOWMS = 100

#: what every deployment offers (the idle connections are listed on request only)
ALWAYS = frozenset(
    {
        Feature.SERVER,
        Feature.SESSIONS,
        Feature.HEALTH,
        Feature.INDEXES,
        Feature.LOCKS,
        Feature.EXPLAIN,
        Feature.EXPLAIN_ANALYZE,
        Feature.EXPLAIN_SESSION,
        Feature.SUGGEST,
        Feature.IDLE_ON_REQUEST,
        Feature.CANCEL,
        Feature.TERMINATE,
    }
)

MONGOS_PROFILER = Notice(
    Feature.PROFILER,
    "connected to a mongos: dbtop cannot switch the profiler through mongos (there the "
    "profile command only sets its slow-operation log)",
    "connect to each shard's primary directly to turn its profiler on",
    Severity.INFO,
)
MONGOS_STATEMENTS = Notice(
    Feature.STATEMENTS,
    "connected to a mongos: the profiler writes system.profile on each shard, so slow "
    "queries come from long-running operations only",
    "connect to a shard's primary to read its profiler",
    Severity.INFO,
)


class StickyNotices:
    """Notices learned once (a privilege refused) and shown on every poll after, by key."""

    def __init__(self) -> None:
        self._notices: dict[str, Notice] = {}

    def keep(self, key: str, notice: Notice) -> None:
        self._notices[key] = notice

    def all(self) -> tuple[Notice, ...]:
        return tuple(self._notices.values())


def features(*, is_mongos: bool, profiled: Sequence[str]) -> frozenset[Feature]:
    found = set(ALWAYS)
    if not is_mongos:
        found.add(Feature.PROFILER)
    if profiled:
        found.add(Feature.STATEMENTS)
    return frozenset(found)


def profiler_off(watched: Sequence[str]) -> Notice:
    shown = ", ".join(watched[:5]) + (" …" if len(watched) > 5 else "")
    target = watched[0] if watched else "DATABASE"
    return Notice(
        Feature.STATEMENTS,
        f"the profiler is off in {shown or 'every database'}: slow queries come from "
        "long-running operations only",
        "turn it on for a database at a threshold (a write; dbtop asks first): "
        f"db.getSiblingDB({shell.quote(target)}).setProfilingLevel(1, "
        f"{{ slowms: {DEFAULT_SLOWMS} }})",
        Severity.INFO,
    )


def notices(
    *,
    is_mongos: bool,
    watched: Sequence[str],
    profiled: Sequence[str],
    levels_known: bool,
    sticky: StickyNotices,
) -> list[Notice]:
    found = list(sticky.all())
    if is_mongos:
        found += [MONGOS_STATEMENTS, MONGOS_PROFILER]
    elif levels_known and not profiled:
        found.append(profiler_off(watched))
    return found


def facts(*, profiled: Sequence[str], topology: str, app_name: str) -> dict[str, Any]:
    """What the user is told about the deployment (``Capabilities.extra``)."""
    return {
        "profiled_databases": tuple(profiled),
        "topology": topology,
        "app_name": app_name,
        "terminate": "killSessions (the operation's logical session)",
        "cancel": "killOp",
    }
