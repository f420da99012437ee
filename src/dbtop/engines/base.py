"""The one protocol every engine adapter implements, the options they all take, and the
small base class that carries what every engine would otherwise write again.

An engine knows its driver and its SQL or commands, never Textual. It is built from a URL
(or, for PostgreSQL, libpq's environment), connects once, and then answers ``snapshot()``
every interval and the user's actions (kill, explain, suggest).

Every engine package has the same role modules (``engine``, ``sessions``, ``statements``,
``indexes``, ``locks``, ``kill``, ``explain``, ``summary``, ``capabilities``, ``advice``);
the helpers they share live beside this module: ``sections`` (one part of a poll fails on
its own), ``refresh`` (re-read something every N seconds), ``own`` (dbtop's own
connections).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from dbtop.errors import RefusedError
from dbtop.model import (
    ACTIONS,
    Advice,
    Capabilities,
    Feature,
    KillMode,
    KillResult,
    Notice,
    PaneLabels,
    Plan,
    Session,
    Severity,
    Snapshot,
    frozen,
)


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

    @property
    def deadline_s(self) -> float:
        """How long the client waits for one round trip: the server's own limit plus a
        margin for the network, so a server that stops answering is noticed on the client
        even when its statement timeout never fires."""
        return self.statement_timeout_ms / 1000 + max(1.0, self.statement_timeout_ms / 2000)


@runtime_checkable
class Engine(Protocol):
    """An adapter for one database engine, bound to one server."""

    #: short engine name, e.g. "postgresql"; also the ``engine`` key of the JSON output
    name: ClassVar[str]
    #: whether polls list idle sessions; only engines with ``Feature.IDLE_ON_REQUEST`` care
    include_idle: bool

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

    async def kill(
        self, session_id: str, mode: KillMode, *, expected: Session | None = None
    ) -> KillResult:
        """Cancel or terminate a session; refuses dbtop's own and read-only mode.

        ``expected`` is the session as the user confirmed it: the engine checks, right
        before sending (in the same statement where the server allows), that the id still
        names that session and refuses with one line (RefusedError) if it does not. None
        keeps the old behaviour: whoever holds the id now."""
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

    async def set_profiling(self, database: str, slowms: int = 100, level: int = 1) -> str:
        """Switch statement collection (``Feature.PROFILER``): level 1 records operations
        slower than ``slowms``, 2 all, 0 none. A write: refused read-only. One line back."""
        ...


READ_ONLY_NOTICE = Notice(Feature.CANCEL, "read-only mode: kill is refused", None, Severity.INFO)


class EngineBase:
    """What every adapter shares: its options and address, its declared capabilities, and
    the refusals that must read the same on every engine."""

    name: ClassVar[str]
    include_idle: bool = True

    def __init__(self, options: ConnectOptions | None, address: str) -> None:
        self.options = options or ConnectOptions()
        self._address = address
        self._capabilities = Capabilities(read_only=self.options.read_only)

    @property
    def address(self) -> str:
        return self._address

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def declare(
        self,
        features: Iterable[Feature],
        notices: Iterable[Notice] = (),
        *,
        labels: PaneLabels | None = None,
        profiler_databases: tuple[str, ...] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> Capabilities:
        """Set (and return) the capabilities; under --read-only no action is declared and
        the sessions pane says why its kill keys are gone."""
        declared = frozenset(features)
        notes = tuple(notices)
        if self.options.read_only:
            declared -= ACTIONS
            notes = (*notes, READ_ONLY_NOTICE)
        self._capabilities = Capabilities(
            features=declared,
            read_only=self.options.read_only,
            labels=labels or PaneLabels(),
            notices=notes,
            profiler_databases=profiler_databases,
            extra=frozen(extra),
        )
        return self._capabilities

    def refuse_read_only(self, action: str = "kill") -> None:
        if self.options.read_only:
            raise RefusedError(f"{action} is refused in --read-only mode")

    def refuse_own(self, session_id: str, own: Iterable[str]) -> None:
        if session_id in set(own):
            raise RefusedError(f"session {session_id} is dbtop's own connection: not killed")

    async def set_profiling(self, database: str, slowms: int = 100, level: int = 1) -> str:
        raise RefusedError(
            f"{self.name} has no profiler to switch: its statement statistics need none"
        )
