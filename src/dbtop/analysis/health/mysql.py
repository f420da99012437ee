"""MySQL / MariaDB health, judged from SHOW GLOBAL STATUS, SHOW REPLICA STATUS, SHOW ENGINE
INNODB STATUS and the sessions' InnoDB transactions (engines/mysql/health.py reads them).

The thresholds are the constants below; docs/health.md lists them with what each check
reads and the privilege it needs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dbtop.analysis.health import duration, level, share
from dbtop.model import Finding, Session, Severity, frozen

#: SHOW REPLICA STATUS Seconds_Behind_Source
LAG_WARN_S, LAG_CRITICAL_S = 30.0, 300.0
#: InnoDB history list length: undo not yet purged (a long transaction or a slow purge)
HISTORY_WARN, HISTORY_CRITICAL = 100_000, 1_000_000
#: an open InnoDB transaction's age
LONG_XACT_WARN_S, LONG_XACT_CRITICAL_S = 300.0, 3600.0
#: the latest deadlock is a warning while younger than this, information after
DEADLOCK_RECENT_S = 3600.0
#: buffer pool reads served from memory, over at least this many requests since start
HIT_RATE_WARN = 0.95
HIT_RATE_MIN_REQUESTS = 100_000
#: free pages share under which waits for a free page mean the pool is too small
FREE_PAGES_LOW = 0.01
#: Threads_connected against max_connections
CONN_WARN, CONN_CRITICAL = 0.80, 0.95
#: aborted connection attempts (Aborted_connects) and clients (Aborted_clients) against
#: Connections, over at least this many connections
ABORTED_WARN = 0.05
ABORTED_MIN = 100


@dataclass(frozen=True, slots=True)
class Deadlock:
    """The LATEST DETECTED DEADLOCK section of SHOW ENGINE INNODB STATUS."""

    at: str
    tables: tuple[str, ...]
    queries: tuple[str, ...]
    threads: tuple[str, ...]
    victim: str | None
    age_s: float | None = None


@dataclass(frozen=True, slots=True)
class MyHealthFacts:
    status: Mapping[str, str] = field(default_factory=dict)
    max_connections: int | None = None
    replica: Mapping[str, Any] | None = None
    history_length: int | None = None
    deadlock: Deadlock | None = None


_SECTION = re.compile(r"^-+\n([A-Z /]+)\n-+\n", re.MULTILINE)
_TABLE = re.compile(r"(?:of table|TABLE LOCK table) `((?:[^`]|``)*)`\.`((?:[^`]|``)*)`")
_THREAD = re.compile(r"^(?:MySQL|MariaDB) thread id (\d+),", re.MULTILINE)
_VICTIM = re.compile(r"\*\*\* WE ROLL BACK TRANSACTION \((\d+)\)")
_HISTORY = re.compile(r"^History list length (\d+)", re.MULTILINE)
_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{1,2}:\d{2}:\d{2})", re.MULTILINE)


def sections(status_text: str) -> dict[str, str]:
    """SHOW ENGINE INNODB STATUS's text by section title."""
    found: dict[str, str] = {}
    matches = list(_SECTION.finditer(status_text))
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(status_text)
        found[match.group(1).strip()] = status_text[match.end() : end]
    return found


def history_length(status_text: str) -> int | None:
    match = _HISTORY.search(status_text)
    return int(match.group(1)) if match else None


def latest_deadlock(status_text: str) -> Deadlock | None:
    body = sections(status_text).get("LATEST DETECTED DEADLOCK")
    if not body:
        return None
    stamp = _STAMP.search(body)
    tables = sorted(
        {f"{a.replace('``', '`')}.{b.replace('``', '`')}" for a, b in _TABLE.findall(body)}
    )
    lines = body.splitlines()
    queries: list[str] = []
    for i, line in enumerate(lines):
        if _THREAD.match(line) and i + 1 < len(lines):
            nxt = lines[i + 1]
            if not nxt.startswith("***"):
                queries.append(nxt.strip())
    victim = _VICTIM.search(body)
    return Deadlock(
        at=stamp.group(1) if stamp else "",
        tables=tuple(tables),
        queries=tuple(queries),
        threads=tuple(_THREAD.findall(body)),
        victim=victim.group(1) if victim else None,
    )


def _num(status: Mapping[str, str], name: str) -> float | None:
    try:
        return float(status[name])
    except (KeyError, ValueError):
        return None


def judge(facts: MyHealthFacts, sessions: Sequence[Session]) -> list[Finding]:
    out: list[Finding] = []
    out += replication(facts.replica)
    out += history(facts.history_length)
    out += long_transactions(sessions)
    out += deadlock(facts.deadlock)
    out += buffer_pool(facts.status)
    out += connections(facts.status, facts.max_connections)
    out += aborted(facts.status)
    return out


def replication(replica: Mapping[str, Any] | None) -> list[Finding]:
    if not replica:
        return []
    out: list[Finding] = []
    source = replica.get("source_host") or "its source"
    for thread in ("io", "sql"):
        running = str(replica.get(f"replica_{thread}_running") or "")
        if running == "Yes":
            continue
        error = replica.get(f"last_{thread}_error") or ""
        out.append(
            Finding(
                "replication_stopped",
                f"replica {thread.upper()} thread",
                f"the replication {thread.upper()} thread (from {source}) is "
                f"{running or 'not running'}"
                + (f": {error}" if error else "")
                + "; this replica falls further behind every second",
                Severity.CRITICAL,
                statement="START REPLICA;",
                warning="fix the error it stopped on first (SHOW REPLICA STATUS)"
                if error
                else None,
                extra=frozen(thread=thread, running=running, error=error or None),
            )
        )
    lag = replica.get("lag_s")
    sev = level(float(lag) if lag is not None else None, LAG_WARN_S, LAG_CRITICAL_S)
    if sev is not None and lag is not None:
        out.append(
            Finding(
                "replication_lag",
                f"replica of {source}",
                f"this replica applies changes {duration(float(lag))} behind {source}: reads "
                "here are stale",
                sev,
                extra=frozen(lag_s=lag),
            )
        )
    return out


def history(length: int | None) -> list[Finding]:
    sev = level(length, HISTORY_WARN, HISTORY_CRITICAL)
    if sev is None or length is None:
        return []
    return [
        Finding(
            "history_list_length",
            "InnoDB purge",
            f"InnoDB's history list is {length:,} undo logs long: purge cannot keep up or "
            "an old transaction holds it back; reads get slower and undo grows",
            sev,
            warning="find the oldest transaction (long_transaction findings) and end it",
            extra=frozen(history_length=length),
        )
    ]


def long_transactions(sessions: Sequence[Session]) -> list[Finding]:
    out: list[Finding] = []
    for s in sessions:
        sev = level(s.xact_age_s, LONG_XACT_WARN_S, LONG_XACT_CRITICAL_S)
        if sev is None or s.is_self:
            continue
        idle = s.kind == "Sleep"
        out.append(
            Finding(
                "long_transaction",
                s.id,
                f"connection {s.id} ({s.user or '?'}@{s.client or '?'}) has had an InnoDB "
                f"transaction open for {duration(s.xact_age_s)}"
                + (" and is idle in it" if idle else "")
                + ": it keeps its row locks and holds back purge",
                sev,
                statement=f"KILL {s.id};" if s.id.isdigit() else None,
                extra=frozen(xact_age_s=s.xact_age_s, rows_locked=s.extra.get("rows_locked")),
            )
        )
    return out


def deadlock(found: Deadlock | None) -> list[Finding]:
    if found is None:
        return []
    recent = found.age_s is not None and found.age_s < DEADLOCK_RECENT_S
    when = f"{duration(found.age_s)} ago" if found.age_s is not None else f"at {found.at}"
    victim = f"; transaction ({found.victim}) was rolled back" if found.victim else ""
    return [
        Finding(
            "deadlock",
            ", ".join(found.tables) or "InnoDB",
            f"the latest deadlock was {when} between connections "
            f"{', '.join(found.threads) or '?'} on {', '.join(found.tables) or '?'}{victim}: "
            "make them take their rows in one order",
            Severity.WARNING if recent else Severity.INFO,
            extra=frozen(
                at=found.at,
                age_s=found.age_s,
                queries=list(found.queries),
                threads=list(found.threads),
            ),
        )
    ]


def buffer_pool(status: Mapping[str, str]) -> list[Finding]:
    out: list[Finding] = []
    requests = _num(status, "innodb_buffer_pool_read_requests")
    reads = _num(status, "innodb_buffer_pool_reads")
    if requests and reads is not None and requests >= HIT_RATE_MIN_REQUESTS:
        hit = 1 - reads / requests
        if hit < HIT_RATE_WARN:
            out.append(
                Finding(
                    "buffer_pool_hit_rate",
                    "innodb_buffer_pool_size",
                    f"only {hit:.1%} of InnoDB page reads since start came from the buffer "
                    "pool: the working set does not fit in innodb_buffer_pool_size",
                    Severity.WARNING,
                    extra=frozen(hit_rate=round(hit, 4)),
                )
            )
    free = share(
        _num(status, "innodb_buffer_pool_pages_free"),
        _num(status, "innodb_buffer_pool_pages_total"),
    )
    waits = _num(status, "innodb_buffer_pool_wait_free") or 0
    if free is not None and free < FREE_PAGES_LOW and waits > 0:
        out.append(
            Finding(
                "buffer_pool_free_pages",
                "innodb_buffer_pool_size",
                f"{free:.2%} of the buffer pool's pages are free and queries waited for a "
                f"free page {waits:.0f} times: the pool is too small or flushing too slow",
                Severity.WARNING,
                extra=frozen(free_share=round(free, 4), wait_free=waits),
            )
        )
    return out


def connections(status: Mapping[str, str], max_connections: int | None) -> list[Finding]:
    connected = _num(status, "threads_connected")
    used = share(connected, max_connections)
    sev = level(used, CONN_WARN, CONN_CRITICAL)
    if sev is None or used is None:
        return []
    return [
        Finding(
            "connections_near_limit",
            "max_connections",
            f"{connected:.0f} of max_connections {max_connections} are in use ({used:.0%}): new "
            "connections will be refused",
            sev,
            extra=frozen(connections=connected, max_connections=max_connections),
        )
    ]


def aborted(status: Mapping[str, str]) -> list[Finding]:
    total = _num(status, "connections")
    out: list[Finding] = []
    for name, what, why in (
        (
            "aborted_connects",
            "connection attempts failed",
            "wrong passwords, no privilege, connect_timeout or max_connect_errors",
        ),
        (
            "aborted_clients",
            "connections were dropped without a proper close",
            "clients killed, or wait_timeout / max_allowed_packet hit",
        ),
    ):
        count = _num(status, name)
        ratio = share(count, total)
        if ratio is None or count is None or count < ABORTED_MIN or ratio < ABORTED_WARN:
            continue
        out.append(
            Finding(
                "aborted_connections",
                name.capitalize(),
                f"{count:.0f} {what} since start ({ratio:.1%} of {total:.0f} connections): "
                f"{why} (see the error log)",
                Severity.WARNING,
                extra=frozen(count=count, connections=total),
            )
        )
    return out
