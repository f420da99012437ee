"""MongoDB health, judged from serverStatus and replSetGetStatus (as the header's summary
already holds them: ServerSummary.extra ``members``, ``tickets``, ``cache_*``), the oplog's
first and last entries and size (engines/mongodb/health.py) and the operations of
$currentOp.

The thresholds are the constants below (docs/health.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dbtop.analysis.health import duration, level, share, size
from dbtop.model import Finding, ServerSummary, Session, Severity, frozen

#: a secondary's replication lag behind the primary
LAG_WARN_S, LAG_CRITICAL_S = 10.0, 60.0
#: the member states of a healthy set
HEALTHY_STATES = frozenset({"PRIMARY", "SECONDARY", "ARBITER"})
#: states a member passes through on its own (a warning, not yet an outage)
TRANSIENT_STATES = frozenset({"STARTUP", "STARTUP2", "RECOVERING", "ROLLBACK"})
#: the oplog's time window, once the oplog is full enough for it to mean anything
OPLOG_WARN_S, OPLOG_CRITICAL_S = 24 * 3600.0, 3600.0
OPLOG_FULL_SHARE = 0.9
#: WiredTiger read / write tickets in use
TICKETS_WARN, TICKETS_CRITICAL = 0.80, 0.95
#: WiredTiger cache: used share (eviction starts at 80 %, app threads help at 95 %) and
#: dirty share (eviction at 5 %, app threads at 20 %)
CACHE_WARN, CACHE_CRITICAL = 0.95, 0.99
DIRTY_WARN, DIRTY_CRITICAL = 0.10, 0.20
#: an operation running this long (not idle, not a change stream or other tailing read)
LONG_OP_WARN_S, LONG_OP_CRITICAL_S = 60.0, 600.0


@dataclass(frozen=True, slots=True)
class Oplog:
    first_s: float | None
    last_s: float | None
    size_bytes: int | None
    max_bytes: int | None

    @property
    def window_s(self) -> float | None:
        if self.first_s is None or self.last_s is None:
            return None
        return max(self.last_s - self.first_s, 0.0)


def judge(server: ServerSummary, sessions: Sequence[Session], oplog: Oplog | None) -> list[Finding]:
    extra = server.extra
    out: list[Finding] = []
    out += members(extra.get("members") or ())
    if oplog is not None:
        out += oplog_window(oplog)
    out += tickets(extra.get("tickets") or {})
    out += cache(extra)
    out += long_operations(sessions)
    return out


def members(rows: Sequence[Mapping[str, Any]]) -> list[Finding]:
    out: list[Finding] = []
    for m in rows:
        name, state = str(m.get("name")), str(m.get("state"))
        if m.get("health") == 0 or state not in HEALTHY_STATES:
            transient = state in TRANSIENT_STATES and m.get("health") != 0
            out.append(
                Finding(
                    "replica_member_state",
                    name,
                    f"replica set member {name} is {state}"
                    + (" and unreachable" if m.get("health") == 0 else "")
                    + ": the set has one member fewer to fail over to or to acknowledge writes",
                    Severity.WARNING if transient else Severity.CRITICAL,
                    extra=frozen(state=state, health=m.get("health")),
                )
            )
        lag = m.get("lag_s")
        sev = level(lag, LAG_WARN_S, LAG_CRITICAL_S)
        if sev is not None and state == "SECONDARY":
            out.append(
                Finding(
                    "replication_lag",
                    name,
                    f"secondary {name} is {duration(lag)} behind the primary: reads there are "
                    "stale and w:majority writes wait",
                    sev,
                    extra=frozen(lag_s=lag),
                )
            )
    return out


def oplog_window(oplog: Oplog) -> list[Finding]:
    window = oplog.window_s
    full = share(oplog.size_bytes, oplog.max_bytes)
    if window is None or full is None or full < OPLOG_FULL_SHARE:
        return []
    if window >= OPLOG_WARN_S:
        return []
    sev = Severity.CRITICAL if window < OPLOG_CRITICAL_S else Severity.WARNING
    grow = max(int((oplog.max_bytes or 0) * 2 / 1024 / 1024), 990)
    return [
        Finding(
            "oplog_window",
            "local.oplog.rs",
            f"the oplog holds {duration(window)} of writes ({size(oplog.size_bytes)} of "
            f"{size(oplog.max_bytes)}): a secondary down longer than that needs a full resync",
            sev,
            statement=f"db.adminCommand({{replSetResizeOplog: 1, size: {grow}}})",
            warning="resize on every member; size is in MB",
            extra=frozen(window_s=window, size_bytes=oplog.size_bytes, max_bytes=oplog.max_bytes),
        )
    ]


def tickets(found: Mapping[str, Mapping[str, Any]]) -> list[Finding]:
    out: list[Finding] = []
    for kind, row in found.items():
        used, available = row.get("out"), row.get("available")
        if used is None or available is None:
            continue
        ratio = share(used, used + available)
        sev = level(ratio, TICKETS_WARN, TICKETS_CRITICAL)
        if sev is None or ratio is None:
            continue
        out.append(
            Finding(
                "wiredtiger_tickets",
                f"{kind} tickets",
                f"{used} of {used + available} WiredTiger {kind} tickets are in use "
                f"({ratio:.0%}): further {kind}s queue; the storage engine cannot keep up "
                "(slow disk, cache pressure, or long operations holding them)",
                sev,
                extra=frozen(out=used, available=available),
            )
        )
    return out


def cache(extra: Mapping[str, Any]) -> list[Finding]:
    used, limit = extra.get("cache_bytes"), extra.get("cache_max_bytes")
    dirty = extra.get("cache_dirty_bytes")
    out: list[Finding] = []
    ratio = share(used, limit)
    dirty_ratio = share(dirty, limit)
    sev_u = level(ratio, CACHE_WARN, CACHE_CRITICAL)
    sev_d = level(dirty_ratio, DIRTY_WARN, DIRTY_CRITICAL)
    sev = Severity.CRITICAL if Severity.CRITICAL in (sev_u, sev_d) else (sev_u or sev_d)
    if sev is None:
        return out
    out.append(
        Finding(
            "cache_pressure",
            "WiredTiger cache",
            f"the WiredTiger cache is {ratio or 0:.0%} full and {dirty_ratio or 0:.0%} dirty "
            f"({size(used)} of {size(limit)}): application threads are made to evict pages, "
            "so every operation slows",
            sev,
            warning="a bigger cache (storage.wiredTiger.engineConfig.cacheSizeGB), or less "
            "data touched per operation",
            extra=frozen(cache_bytes=used, cache_max_bytes=limit, dirty_bytes=dirty),
        )
    )
    return out


def long_operations(sessions: Sequence[Session]) -> list[Finding]:
    out: list[Finding] = []
    for s in sessions:
        if s.is_idle or s.is_self or s.duration_s is None:
            continue
        if s.extra.get("internal") or (s.extra.get("command_name") in ("getMore", "hello")):
            continue
        sev = level(s.duration_s, LONG_OP_WARN_S, LONG_OP_CRITICAL_S)
        if sev is None:
            continue
        opid = s.extra.get("opid")
        ns = s.extra.get("ns") or s.database or "?"
        out.append(
            Finding(
                "long_operation",
                s.id,
                f"operation {s.id} ({s.extra.get('op') or s.kind or '?'} on {ns}) has run for "
                f"{duration(s.duration_s)}",
                sev,
                statement=f"db.killOp({opid!r})" if opid is not None else None,
                extra=frozen(duration_s=s.duration_s, ns=ns),
            )
        )
    return out
