"""The one protocol every engine adapter implements, and the options they all take.

An engine knows its driver and its SQL or commands, never Textual. It is built from a URL
(or, for PostgreSQL, libpq's environment), connects once, and then answers ``snapshot()``
every interval and the user's actions (kill, explain, suggest).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

from dbtop.model import Advice, Capabilities, KillMode, KillResult, Plan, Snapshot


@dataclass(frozen=True, slots=True)
class ConnectOptions:
    """How the monitor behaves on the server; the defaults keep an incident from worsening."""

    connect_timeout_s: float = 5.0
    # Every monitor query is cut off server-side after this long, and never waits on a lock
    # longer than lock_timeout_ms.
    statement_timeout_ms: int = 2000
    lock_timeout_ms: int = 100
    read_only: bool = False
    application_name: str = "dbtop"


@runtime_checkable
class Engine(Protocol):
    """An adapter for one database engine, bound to one server."""

    #: short engine name, e.g. "postgresql"; also the ``engine`` key of the JSON output
    name: ClassVar[str]

    @property
    def address(self) -> str:
        """Where it points, for display: host, port, database; never a password."""
        ...

    @property
    def capabilities(self) -> Capabilities:
        """What this server and role allow; meaningful after ``connect()``."""
        ...

    async def connect(self) -> None:
        """Open the monitor connection; raises a DbtopError subclass with one clear line."""
        ...

    async def close(self) -> None:
        """Close every connection; safe to call twice or after a failed connect."""
        ...

    async def snapshot(self) -> Snapshot:
        """Collect one Snapshot; cheap and time-limited, safe to call every second."""
        ...

    async def kill(self, session_id: str, mode: KillMode) -> KillResult:
        """Cancel or terminate a session; refuses dbtop's own and read-only mode."""
        ...

    async def explain(
        self,
        *,
        query: str | None = None,
        session_id: str | None = None,
        analyze: bool = False,
    ) -> Plan:
        """The plan of a query or of a session's current query; never runs a write."""
        ...

    async def suggest(self) -> Advice:
        """Index suggestions and findings for the current workload."""
        ...


@runtime_checkable
class ProfilerControl(Protocol):
    """Optional: an engine whose statement statistics must be switched on (MongoDB's
    profiler). A write on the server: the UI asks first and never offers it read-only.
    Offered when ``capabilities.extra["can_set_profiling"]`` is true, for the databases in
    ``capabilities.extra["watched_databases"]``."""

    async def set_profiling(self, database: str, slowms: int = 100, level: int = 1) -> str:
        """Level 1: operations slower than ``slowms``; 2: all; 0: off. One line back."""
        ...


@runtime_checkable
class IdleToggle(Protocol):
    """Optional: an engine that leaves idle sessions out of its polls unless asked (MongoDB
    lists idle connections only on request). The UI's idle toggle sets it."""

    include_idle: bool
