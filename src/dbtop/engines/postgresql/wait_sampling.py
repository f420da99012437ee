"""pg_wait_sampling: the server's own wait sampler, read each poll for the load view.

Its collector looks at every backend every ``pg_wait_sampling.profile_period`` (10 ms by
default) and adds one to a counter per (pid, wait event, queryid) in
``pg_wait_sampling_profile``. dbtop reads that view each poll on its monitor connection
(statement and lock timeouts of the connection, read-only, never a reset: the profile
may be someone else's too) and keeps the increase since its previous read. The history
view is not used: it is a ring of 5,000 samples by default, which 50 busy backends fill in
10 seconds, so it would lose what happened between two polls on a busy server.

What counts as load (the same as "active" in the sessions pane, as near as the sampler
lets one tell):

- ``Activity`` waits are a background process idle in its main loop: left out;
- ``Client: ClientRead`` with no queryid is a session waiting for its next command: idle,
  or idle in a transaction (the sampler does not say which). It counts only for a session
  that this poll saw idle in a transaction (the sessions pane counts those as active);
- dbtop's own backends are left out.

How many times the collector looked between two reads is the most samples any one
backend gained: an idle backend (dbtop's own monitor connection between polls, the
checkpointer, the WAL writer) waits, and is seen at every look. So the average does not
depend on the collector keeping its period on a busy server. Before 1.1.5
(``pg_wait_sampling.sample_cpu``), a backend on CPU is not sampled at all: the load view
then takes the CPU class from its own look at the poll (analysis.load).

Only backends alive at this read or at the previous one are fetched: the profile keeps
the rows of every backend that ever ran until someone resets it. A backend that connects,
works and disconnects between two polls is not in either and its samples are missed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import asyncpg

from dbtop.model import Session
from dbtop.waitprofile import WaitCount, WaitProfile

DETECT_SQL = """
    SELECT /* dbtop */ n.nspname,
           (SELECT setting FROM pg_settings WHERE name = 'pg_wait_sampling.profile_period')
               AS period,
           (SELECT setting FROM pg_settings WHERE name = 'pg_wait_sampling.profile_pid')
               AS per_pid,
           (SELECT setting FROM pg_settings WHERE name = 'pg_wait_sampling.sample_cpu')
               AS sample_cpu
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_wait_sampling'
"""
AVAILABLE_SQL = (
    "SELECT /* dbtop */ count(*) > 0 FROM pg_available_extensions WHERE name = 'pg_wait_sampling'"
)
DEFAULT_PERIOD_MS = 10.0

Key = tuple[int, str | None, str | None, int | None]


def profile_sql(schema: str) -> str:
    view = f"{_quote(schema)}.pg_wait_sampling_profile"
    return f"""
        SELECT /* dbtop */ p.pid, p.event_type, p.event, p.queryid, p.count
        FROM {view} p
        WHERE p.pid = 0 OR p.pid = ANY($1::int[])
           OR p.pid IN (SELECT a.pid FROM pg_stat_activity a)
    """


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _wait(event_type: str | None, event: str | None) -> str | None:
    if not event_type:
        return None
    return f"{event_type}:{event}" if event else event_type


def counts_as_load(
    event_type: str | None, event: str | None, queryid: int | None, session: Session | None
) -> bool:
    """Whether one profile row is a session doing something (module docstring)."""
    if event_type == "Activity":
        return False
    if event_type == "Client" and event == "ClientRead" and not queryid:
        return session is not None and session.in_transaction and not session.is_idle
    return True


@dataclass
class WaitSampling:
    """The extension where it was found, and the counts of the previous read."""

    schema: str
    period_ms: float = DEFAULT_PERIOD_MS
    per_pid: bool = True
    cpu_sampled: bool = True
    _previous: dict[Key, int] = field(default_factory=dict)
    _read_at: float | None = None

    async def read(
        self,
        conn: asyncpg.Connection,
        monitor_pid: int,
        own_pids: Iterable[int],
        sessions: Iterable[Session] = (),
    ) -> WaitProfile | None:
        """The samples since the previous read; None at the first one (nothing to
        subtract from yet)."""
        known = sorted({pid for (pid, *_rest) in self._previous} | {monitor_pid})
        rows = await conn.fetch(profile_sql(self.schema), known)
        now = time.monotonic()
        current: dict[Key, int] = {}
        for row in rows:
            key = (int(row["pid"]), row["event_type"], row["event"], row["queryid"])
            current[key] = current.get(key, 0) + int(row["count"] or 0)
        previous, self._previous = self._previous, current
        read_at, self._read_at = self._read_at, now
        if read_at is None:
            return None
        by_pid = {s.id: s for s in sessions}
        own = {*own_pids, monitor_pid}
        per_pid: dict[int, int] = {}
        counts: list[WaitCount] = []
        for key, count in current.items():
            gained = count - previous.get(key, 0)
            if gained < 0:  # the profile was reset since: all of it is new
                gained = count
            if gained <= 0:
                continue
            pid, event_type, event, queryid = key
            per_pid[pid] = per_pid.get(pid, 0) + gained
            if pid in own:
                continue
            if not counts_as_load(event_type, event, queryid, by_pid.get(str(pid))):
                continue
            counts.append((pid, _wait(event_type, event), queryid or None, gained))
        counts.sort(key=lambda row: (-row[3], row[0]))
        return WaitProfile(
            period_ms=self.period_ms,
            seconds=round(now - read_at, 3),
            looks=max(per_pid.values(), default=0) if self.per_pid else 0,
            counts=tuple(counts),
            per_pid=self.per_pid,
            cpu_sampled=self.cpu_sampled,
        )

    def forget(self) -> None:
        """A new monitor connection: the next read starts afresh."""
        self._previous = {}
        self._read_at = None


async def detect(conn: asyncpg.Connection, monitor_pid: int) -> tuple[WaitSampling | None, str]:
    """The extension in the connected database, read once (what the first poll subtracts),
    or why it is not used (one line)."""
    row = await conn.fetchrow(DETECT_SQL)
    if row is None:
        available = await conn.fetchval(AVAILABLE_SQL)
        return None, (
            "pg_wait_sampling is not created in this database (CREATE EXTENSION "
            "pg_wait_sampling; it must be in shared_preload_libraries)"
            if available
            else "pg_wait_sampling is not installed"
        )
    try:
        period = float(row["period"]) if row["period"] else DEFAULT_PERIOD_MS
    except ValueError:
        period = DEFAULT_PERIOD_MS
    if row["period"] is None:
        # the extension exists but its library is not loaded: the view would fail
        return None, (
            "pg_wait_sampling is created but not loaded (add it to shared_preload_libraries "
            "and restart)"
        )
    source = WaitSampling(
        schema=row["nspname"],
        period_ms=period,
        per_pid=row["per_pid"] != "off",
        cpu_sampled=row["sample_cpu"] == "on",
    )
    try:
        await source.read(conn, monitor_pid, ())
    except asyncpg.PostgresError as exc:
        return None, f"pg_wait_sampling cannot be read: {exc}"
    return source, ""
