"""Engine-neutral, immutable data that flows from an engine's poller to the panes.

Every engine fills the same types. What only one engine has goes into the ``extra`` mapping
of the row it belongs to (docs/json.md), never into a new top-level type, so that the UI,
the analysis and the JSON output stay engine-neutral. Mappings are frozen
(``MappingProxyType``) when a row is built: a Snapshot is shared by every reader, uncopied.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Any

from dbtop.progress import Progress
from dbtop.waitprofile import WaitProfile

EMPTY: Mapping[str, Any] = MappingProxyType({})


def _empty() -> Mapping[str, Any]:
    return EMPTY


def frozen(mapping: Mapping[str, Any] | None = None, /, **items: Any) -> Mapping[str, Any]:
    """A read-only copy of ``mapping`` (plus ``items``), for the ``extra`` fields."""
    merged = dict(mapping or {})
    merged.update(items)
    return MappingProxyType(merged) if merged else EMPTY


class KillMode(enum.StrEnum):
    """What ``k`` and ``K`` do: stop the current work, or end the whole session."""

    CANCEL = "cancel"
    TERMINATE = "terminate"


class Severity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Feature(enum.StrEnum):
    """Everything an engine may show or do, in one typed list.

    An engine declares the ones it has in ``Capabilities.features``; a ``Notice`` names the
    one it concerns; the UI offers a pane's keys and explains a pane's gaps from these, so
    no free-form string, synonym or ``isinstance`` check decides what is on screen.
    """

    #: the header's server figures (version, role, throughput, replication)
    SERVER = "server"
    #: who is connected and what each runs (pg_stat_activity, processlist, $currentOp …)
    SESSIONS = "sessions"
    #: per-statement statistics or slow events (pg_stat_statements, digests, profiler, SLOWLOG)
    STATEMENTS = "statements"
    #: index and table statistics, or the keyspace on Redis
    INDEXES = "indexes"
    #: who waits on whom (lock graph, blocked clients)
    LOCKS = "locks"
    #: stop a session's current work (``k``)
    CANCEL = "cancel"
    #: end a session (``K``)
    TERMINATE = "terminate"
    #: the plan of a query (``e``)
    EXPLAIN = "explain"
    #: the plan with execution figures, which runs the statement (``E``)
    EXPLAIN_ANALYZE = "explain_analyze"
    #: the plan of what a running session executes
    EXPLAIN_SESSION = "explain_session"
    #: index suggestions and findings (``i``)
    SUGGEST = "suggest"
    #: suggestions costed with hypothetical indexes (hypopg)
    HYPOTHETICAL_INDEXES = "hypothetical_indexes"
    #: statement collection that must be switched on by dbtop (MongoDB's profiler, ``p``)
    PROFILER = "profiler"
    #: idle sessions are left out of polls unless asked (``a`` asks the engine, not the pane)
    IDLE_ON_REQUEST = "idle_on_request"
    #: health checks (wraparound, slots, replication, memory …): findings, pane ``5``
    HEALTH = "health"


#: the features that are actions on the server: never offered under --read-only
ACTIONS: frozenset[Feature] = frozenset({Feature.CANCEL, Feature.TERMINATE, Feature.PROFILER})


@dataclass(frozen=True, slots=True)
class Notice:
    """Something dbtop could not show or do, with the reason and how to fix it.

    ``feature`` names what is affected, so a pane shows the notices that concern it
    instead of an empty table.
    """

    feature: Feature
    message: str
    hint: str | None = None
    severity: Severity = Severity.WARNING


@dataclass(frozen=True, slots=True)
class PaneLabels:
    """What the four panes are called on this engine (Redis has clients, not sessions)."""

    sessions: str = "Sessions"
    statements: str = "Slow queries"
    indexes: str = "Indexes"
    locks: str = "Locks"


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What this engine, on this server, with this role, can show and do.

    The UI hides or explains what is missing instead of failing: ``notices`` carry the
    reason and the fix (e.g. "pg_stat_statements is not loaded: add it to
    shared_preload_libraries"). ``extra`` holds facts about the server and role for
    display (role name, version, extension versions), never a capability.
    """

    features: frozenset[Feature] = frozenset()
    read_only: bool = False
    labels: PaneLabels = PaneLabels()
    notices: tuple[Notice, ...] = ()
    #: the databases whose profiler ``Feature.PROFILER`` can switch (MongoDB)
    profiler_databases: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=_empty)

    def has(self, feature: Feature) -> bool:
        """Whether the feature is there; an action never is under --read-only."""
        if self.read_only and feature in ACTIONS:
            return False
        return feature in self.features

    def notices_for(self, *features: Feature) -> tuple[Notice, ...]:
        return tuple(n for n in self.notices if n.feature in features)


@dataclass(frozen=True, slots=True)
class ServerSummary:
    """The header line: who the server is and how it is doing.

    ``counters`` hold monotonic totals (transactions, commands, cache hits, …) from which
    analysis/ computes per-second rates; ``throughput_counter`` names the one shown as
    TPS / QPS in the header.
    """

    engine: str
    address: str
    version: str
    version_num: int | None = None
    uptime_s: float | None = None
    role: str | None = None
    replication_lag_s: float | None = None
    connections: int | None = None
    max_connections: int | None = None
    cache_hit_ratio: float | None = None
    database: str | None = None
    database_size_bytes: int | None = None
    counters: Mapping[str, float] = field(default_factory=_empty)
    throughput_counter: str | None = None
    throughput_label: str = "TPS"
    extra: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class Session:
    """One connection / backend / client / operation.

    ``state`` uses the engine's own words (``active``, ``idle in transaction``, …);
    ``is_idle`` and ``in_transaction`` are the engine's judgement of them so the UI need not
    know each engine's vocabulary.
    """

    id: str
    user: str | None = None
    database: str | None = None
    application: str | None = None
    client: str | None = None
    kind: str | None = None
    state: str | None = None
    is_idle: bool = False
    in_transaction: bool = False
    query: str | None = None
    query_start: datetime | None = None
    xact_start: datetime | None = None
    backend_start: datetime | None = None
    duration_s: float | None = None
    xact_age_s: float | None = None
    wait: str | None = None
    waiting_on_lock: bool = False
    blocked_by: tuple[str, ...] = ()
    is_self: bool = False
    node: str | None = None
    hidden: str | None = None  # why the role may not see it ("needs pg_monitor"); never idle
    progress: Progress | None = None  # a long maintenance command's progress (progress.py)
    extra: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class Statement:
    """Cumulative figures for one normalized statement (digest, query shape, command)."""

    id: str
    query: str
    calls: int
    total_ms: float
    mean_ms: float | None = None
    rows: int | None = None
    user: str | None = None
    database: str | None = None
    node: str | None = None
    extra: Mapping[str, Any] = field(default_factory=_empty)
    #: other cumulative counters of the statement (rows examined, docs examined, blocks
    #: read, temp tables …) by name; analysis/ turns them into per-second rates
    counters: Mapping[str, float] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class SlowEvent:
    """One logged slow execution (MySQL slow log table, Redis SLOWLOG, a profile entry)."""

    id: str
    query: str
    duration_ms: float
    at: datetime | None = None
    client: str | None = None
    user: str | None = None
    database: str | None = None
    node: str | None = None
    extra: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class IndexStat:
    schema: str | None
    table: str
    name: str
    columns: tuple[str, ...] = ()
    definition: str | None = None
    scans: int | None = None
    tuples_read: int | None = None
    tuples_fetched: int | None = None
    size_bytes: int | None = None
    unused: bool = False
    duplicate_of: str | None = None
    valid: bool = True
    is_unique: bool = False
    is_primary: bool = False
    constraint: str | None = None
    node: str | None = None
    extra: Mapping[str, Any] = field(default_factory=_empty)

    @property
    def key(self) -> str:
        """Unique on a server: index names repeat across tables on MySQL (PRIMARY) and
        MongoDB (_id_), and across nodes of a cluster."""
        base = f"{self.table}.{self.name}"
        if self.schema:
            base = f"{self.schema}.{base}"
        return f"{self.node}/{base}" if self.node else base


@dataclass(frozen=True, slots=True)
class TableStat:
    """Per table (collection, Redis database): how it is read, how big it is."""

    schema: str | None
    table: str
    seq_scans: int | None = None
    seq_rows_read: int | None = None
    index_scans: int | None = None
    live_rows: int | None = None
    size_bytes: int | None = None
    node: str | None = None
    extra: Mapping[str, Any] = field(default_factory=_empty)

    @property
    def key(self) -> str:
        return f"{self.schema}.{self.table}" if self.schema else self.table

    @property
    def seq_scan_share(self) -> float | None:
        """Share of scans that were sequential, None when the table was never scanned."""
        if self.seq_scans is None:
            return None
        total = self.seq_scans + (self.index_scans or 0)
        return self.seq_scans / total if total else None


@dataclass(frozen=True, slots=True)
class KeyPattern:
    """A group of keys sharing a shape (``user:*:session``), from a bounded sample."""

    pattern: str
    database: str | None = None
    type: str | None = None
    sampled_keys: int = 0
    estimated_keys: int | None = None
    memory_bytes: int | None = None
    no_ttl_share: float | None = None
    biggest_key: str | None = None
    biggest_key_bytes: int | None = None
    node: str | None = None
    extra: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class LockWait:
    """One edge of the lock graph: ``waiter`` waits for ``blocker``."""

    waiter: str
    blocker: str
    mode: str | None = None
    lock_type: str | None = None
    object: str | None = None
    held_mode: str | None = None
    wait_start: datetime | None = None
    wait_s: float | None = None
    node: str | None = None
    extra: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class Finding:
    """A fact about the schema or the server worth acting on (unused index, big key …)."""

    kind: str
    object: str
    message: str
    severity: Severity = Severity.WARNING
    statement: str | None = None
    warning: str | None = None
    extra: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class QueryShare:
    """A statement a suggestion helps, with its share of the workload's total time."""

    query: str
    share: float
    calls: int | None = None
    cost_before: float | None = None
    cost_after: float | None = None
    id: str | None = None


@dataclass(frozen=True, slots=True)
class Suggestion:
    """An index (or other change) the advisor proposes, with its evidence."""

    table: str
    columns: tuple[str, ...]
    statement: str
    verified: bool
    reason: str
    cost_before: float | None = None
    cost_after: float | None = None
    size_bytes: int | None = None
    queries: tuple[QueryShare, ...] = ()
    schema: str | None = None
    include: tuple[str, ...] = ()
    where: str | None = None
    extra: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A candidate the advisor considered and dropped, and why (shown on request)."""

    table: str
    columns: tuple[str, ...]
    reason: str
    schema: str | None = None
    include: tuple[str, ...] = ()
    where: str | None = None
    extra: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class Advice:
    suggestions: tuple[Suggestion, ...] = ()
    findings: tuple[Finding, ...] = ()
    rejected: tuple[Rejection, ...] = ()
    notices: tuple[Notice, ...] = ()
    #: figures about the run: statements analyzed, workload cost before/after, timings
    extra: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class PlanNode:
    name: str
    detail: str | None = None
    startup_cost: float | None = None
    total_cost: float | None = None
    rows: float | None = None
    actual_ms: float | None = None
    actual_rows: float | None = None
    loops: int | None = None
    children: tuple[PlanNode, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=_empty)

    def walk(self) -> tuple[PlanNode, ...]:
        nodes: list[PlanNode] = [self]
        for child in self.children:
            nodes.extend(child.walk())
        return tuple(nodes)


@dataclass(frozen=True, slots=True)
class Plan:
    query: str
    root: PlanNode
    raw: Any
    analyzed: bool = False
    generic: bool = False
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class KillResult:
    session_id: str
    mode: KillMode
    ok: bool
    message: str


@dataclass(frozen=True, slots=True)
class StatementRate:
    calls_s: float
    total_ms_s: float
    rows_s: float | None
    mean_ms: float | None
    #: Statement.counters per second over the interval
    counters: Mapping[str, float] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class Rates:
    """Per-second figures over the interval between two snapshots (from analysis/)."""

    interval_s: float
    server: Mapping[str, float] = field(default_factory=_empty)
    statements: Mapping[str, StatementRate] = field(default_factory=_empty)
    indexes: Mapping[str, float] = field(default_factory=_empty)
    tables: Mapping[str, Mapping[str, float]] = field(default_factory=_empty)
    reset: bool = False


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything one poll saw. Immutable: panes read it, nobody changes it."""

    engine: str
    taken_at: datetime
    monotonic: float
    server: ServerSummary
    capabilities: Capabilities
    sessions: tuple[Session, ...] = ()
    statements: tuple[Statement, ...] = ()
    slow_events: tuple[SlowEvent, ...] = ()
    indexes: tuple[IndexStat, ...] = ()
    tables: tuple[TableStat, ...] = ()
    keyspace: tuple[KeyPattern, ...] = ()
    lock_waits: tuple[LockWait, ...] = ()
    findings: tuple[Finding, ...] = ()
    notices: tuple[Notice, ...] = ()
    rates: Rates | None = None
    collect_ms: float | None = None
    wait_profile: WaitProfile | None = None  # pg_wait_sampling's samples since the last poll
    extra: Mapping[str, Any] = field(default_factory=_empty)

    def session(self, session_id: str) -> Session | None:
        for session in self.sessions:
            if session.id == session_id:
                return session
        return None


def to_jsonable(value: Any) -> Any:
    """Plain JSON data for any model value (dataclasses, enums, datetimes, frozen maps)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):  # sorted: a set's order changes between runs
        return sorted((to_jsonable(v) for v in value), key=str)
    if isinstance(value, tuple | list):
        return [to_jsonable(v) for v in value]
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
