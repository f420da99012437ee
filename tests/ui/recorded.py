"""Recorded real snapshots, played back through the Engine protocol.

``data/*.json`` were taken from the real PostgreSQL by ``record.py`` (a lock chain, a
workload, unused and duplicate indexes). ``from_jsonable`` turns the JSON back into the
model's frozen dataclasses, and ``ReplayEngine`` serves them: it is an Engine (connect,
snapshot, kill, explain, suggest) whose data comes from the recording instead of a server,
so the UI tests are deterministic. It records the actions asked of it for the tests to
check; nothing of a driver is imitated.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from dbtop import model
from dbtop.errors import RefusedError
from dbtop.model import (
    Advice,
    Capabilities,
    KillMode,
    KillResult,
    Plan,
    Session,
    Snapshot,
    frozen,
)

DATA = Path(__file__).with_name("data")


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, vars(model))


def from_jsonable(kind: Any, value: Any) -> Any:
    """Rebuild a model value of type ``kind`` from its ``to_jsonable`` form."""
    origin = typing.get_origin(kind)
    if value is None:
        return None
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        for option in options:
            try:
                return from_jsonable(option, value)
            except (TypeError, ValueError, KeyError):
                continue
        return value
    if dataclasses.is_dataclass(kind):
        hints = _hints(kind)
        names = {f.name for f in dataclasses.fields(kind)}
        args = {k: from_jsonable(hints[k], v) for k, v in value.items() if k in names}
        return kind(**args)
    if origin is tuple:
        args = typing.get_args(kind)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_jsonable(args[0], v) for v in value)
        # a fixed-shape tuple (a wait profile's row): each position its own type
        return tuple(from_jsonable(a, v) for a, v in zip(args, value, strict=True))
    if origin in (Mapping, dict) or kind is Mapping:
        args = typing.get_args(kind)
        item = args[1] if len(args) == 2 else Any
        return frozen({k: from_jsonable(item, v) for k, v in value.items()})
    if origin is frozenset:
        (item,) = typing.get_args(kind)[:1]
        return frozenset(from_jsonable(item, v) for v in value)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind(value)
    if kind is datetime:
        return datetime.fromisoformat(value)
    if kind is float and isinstance(value, int | float):
        return float(value)
    if kind is int and isinstance(value, int):
        return value
    if kind is str and isinstance(value, str):
        return value
    if kind is bool and isinstance(value, bool):
        return value
    if kind in (float, int, str, bool):
        raise TypeError(f"{value!r} is not {kind.__name__}")
    return value


def load_json(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def load_snapshot(name: str = "pg_snapshot.json", which: str = "snapshot") -> Snapshot:
    """The second recorded snapshot (with rates), or ``which="first"``."""
    return from_jsonable(Snapshot, load_json(name)[which])


def load_snapshots(name: str = "pg_snapshot.json") -> list[Snapshot]:
    return [load_snapshot(name, "first"), load_snapshot(name, "snapshot")]


def load_plan(name: str = "pg_snapshot.json") -> Plan:
    return from_jsonable(Plan, load_json(name)["plan"])


def load_advice(name: str = "pg_snapshot.json") -> Advice:
    return from_jsonable(Advice, load_json(name)["advice"])


class ReplayEngine:
    """Serves recorded snapshots; every poll advances a frozen monotonic clock by 1 s."""

    name: ClassVar[str] = "postgresql"

    def __init__(
        self,
        snapshots: list[Snapshot],
        *,
        plan: Plan | None = None,
        advice: Advice | None = None,
        read_only: bool = False,
        fail_connect: Exception | None = None,
    ) -> None:
        self.snapshots = snapshots
        self.plan = plan
        self.advice = advice
        self.read_only = read_only
        self.fail_connect = fail_connect
        self.polls = 0
        self.connected = False
        self.closed = 0
        self.kills: list[tuple[str, KillMode]] = []
        #: the ``expected`` session of each kill, in order
        self.expected: list[Session | None] = []
        self.explains: list[dict[str, Any]] = []
        self.suggests = 0

    @property
    def address(self) -> str:
        return self.snapshots[0].server.address

    @property
    def capabilities(self) -> Capabilities:
        return self.snapshots[0].capabilities

    async def connect(self) -> None:
        if self.fail_connect is not None:
            raise self.fail_connect
        self.connected = True

    async def close(self) -> None:
        self.connected = False
        self.closed += 1

    async def snapshot(self) -> Snapshot:
        """The recorded snapshots in order (rates are the poller's to compute), then the
        last one again, a second later each time."""
        self.polls += 1
        if self.polls <= len(self.snapshots):
            return dataclasses.replace(self.snapshots[self.polls - 1], rates=None)
        last = self.snapshots[-1]
        later = self.polls - len(self.snapshots)
        return dataclasses.replace(last, monotonic=last.monotonic + later, rates=None)

    async def kill(
        self, session_id: str, mode: KillMode, *, expected: Session | None = None
    ) -> KillResult:
        self.expected.append(expected)
        if self.read_only:
            raise RefusedError("kill is refused in --read-only mode")
        self.kills.append((session_id, mode))
        verb = "cancelled the query of" if mode is KillMode.CANCEL else "terminated"
        return KillResult(session_id, mode, True, f"{verb} session {session_id}")

    async def explain(
        self, *, query: str | None = None, session_id: str | None = None, analyze: bool = False
    ) -> Plan:
        self.explains.append({"query": query, "session_id": session_id, "analyze": analyze})
        assert self.plan is not None
        return self.plan

    async def suggest(self) -> Advice:
        self.suggests += 1
        assert self.advice is not None
        return self.advice
