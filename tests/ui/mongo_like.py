"""A MongoDB-like UI test double: the recorded snapshots dressed as MongoDB's (profiler
switch, watched databases, docs examined per statement, the global lock queue) served by
an engine that declares Feature.PROFILER and Feature.IDLE_ON_REQUEST.

The real MongoDB engine is tested against a server elsewhere; here only the UI's side of
those protocols is under test.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from dbtop.errors import PrivilegeError, RefusedError
from dbtop.model import Feature, Notice, Severity, Snapshot, frozen
from tests.ui.recorded import ReplayEngine

WATCHED = ("shop", "billing")
PROFILER_OFF = "the profiler is off in shop, billing: slow queries come from long-running ops"


def mongo_like(snapshot: Snapshot, step: int, *, can_set_profiling: bool = True) -> Snapshot:
    """``snapshot`` as MongoDB would fill it; ``step`` makes the statements' counters grow
    from one recorded snapshot to the next so they have rates."""
    statements = tuple(
        dataclasses.replace(
            s,
            counters=frozen(
                docs_examined=float(s.calls * 1000),
                keys_examined=float(s.calls * 10 + step),
            ),
        )
        for s in snapshot.statements
    )
    caps = dataclasses.replace(
        snapshot.capabilities,
        notices=(Notice(Feature.STATEMENTS, PROFILER_OFF, severity=Severity.INFO),),
        features=(
            snapshot.capabilities.features | {Feature.PROFILER, Feature.IDLE_ON_REQUEST}
            if can_set_profiling
            else snapshot.capabilities.features | {Feature.IDLE_ON_REQUEST}
        ),
        profiler_databases=WATCHED,
    )
    server = dataclasses.replace(
        snapshot.server,
        engine="mongodb",
        extra=frozen(snapshot.server.extra, lock_queue=frozen(total=7, readers=4, writers=3)),
    )
    return dataclasses.replace(
        snapshot, engine="mongodb", server=server, capabilities=caps, statements=statements
    )


class MongoLikeEngine(ReplayEngine):
    """Leaves idle sessions out unless ``include_idle`` (as MongoDB's $currentOp does), and
    records each profiler switch."""

    name: ClassVar[str] = "mongodb"

    def __init__(self, snapshots: list[Snapshot], **kwargs: Any) -> None:
        self.refuse_profiling: str | None = kwargs.pop("refuse_profiling", None)
        can_set = not kwargs.get("read_only", False)
        dressed = [mongo_like(s, i, can_set_profiling=can_set) for i, s in enumerate(snapshots)]
        super().__init__(dressed, **kwargs)
        self.include_idle = False
        #: include_idle as each poll saw it
        self.idle_asked: list[bool] = []
        self.profiling: list[tuple[str, int, int]] = []

    async def snapshot(self) -> Snapshot:
        snapshot = await super().snapshot()
        self.idle_asked.append(self.include_idle)
        if self.include_idle:
            return snapshot
        busy = tuple(s for s in snapshot.sessions if not s.is_idle)
        return dataclasses.replace(snapshot, sessions=busy)

    async def set_profiling(self, database: str, slowms: int = 100, level: int = 1) -> str:
        if self.read_only:
            raise RefusedError("turning the profiler on is a write: refused in read-only mode")
        if self.refuse_profiling is not None:
            raise PrivilegeError(self.refuse_profiling)
        self.profiling.append((database, slowms, level))
        return f"profiler of {database}: level {level}, slowms {slowms} (was level 0, slowms 100)"
