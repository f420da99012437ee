"""PostgreSQL health, judged from the figures engines/postgresql/health.py reads.

The thresholds are the constants below (and in postgresql_tables.py for sequences, vacuum
and bloat); docs/health.md lists them with what each check reads and the privilege it
needs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dbtop.analysis.health import duration, level, quote_literal, share, size
from dbtop.analysis.health.postgresql_tables import (
    bloat_estimate,
    sequence_exhaustion,
    setting_int,
    vacuum_overdue,
)
from dbtop.model import Finding, Session, Severity, frozen

Row = Mapping[str, Any]

#: a database's or table's xid age, as a share of autovacuum_freeze_max_age: past 1.0
#: autovacuum should already be freezing it, so staying past 1.2 means it is not keeping up
XID_WARN_SHARE = 1.2
#: and as xids: past a billion (half of the 2^31 at which the server stops writes) it is an
#: emergency whatever the setting
XID_CRITICAL = 1_000_000_000
#: the xmin horizon's age in xids, and (for sessions and prepared transactions) in seconds
XMIN_WARN_XIDS = 10_000_000
XMIN_CRITICAL_XIDS = 500_000_000
XMIN_WARN_S = 3600.0
#: WAL a slot retains, as a share of max_wal_size (warning), and in bytes (critical)
SLOT_WAL_WARN_SHARE = 1.0
SLOT_WAL_CRITICAL_BYTES = 20 * 1024**3
#: replica lag, seconds and bytes
LAG_WARN_S, LAG_CRITICAL_S = 30.0, 300.0
LAG_WARN_BYTES, LAG_CRITICAL_BYTES = 1024**3, 16 * 1024**3
#: connections in use, share of those a normal role may open
CONN_WARN, CONN_CRITICAL = 0.80, 0.95
#: an open transaction's age (sessions not idle in it: those are idle_in_transaction)
LONG_XACT_WARN_S, LONG_XACT_CRITICAL_S = 300.0, 3600.0
#: a prepared transaction's age: any is shown, a warning from this age
PREPARED_WARN_S = 60.0
#: checkpoints requested (WAL filled max_wal_size) rather than timed: share, and at least
CHECKPOINT_REQ_WARN = 0.2
CHECKPOINT_REQ_MIN = 10
#: temporary file bytes since the statistics were reset
TEMP_WARN_BYTES = 1024**3


@dataclass(frozen=True, slots=True)
class PgHealthFacts:
    """What one read found; a list left empty was not read (the notices say why)."""

    settings: Mapping[str, str] = field(default_factory=dict)
    databases: Sequence[Row] = ()
    tables_age: Sequence[Row] = ()
    horizon: Sequence[Row] = ()
    slots: Sequence[Row] = ()
    replicas: Sequence[Row] = ()
    sequences: Sequence[Row] = ()
    vacuum: Sequence[Row] = ()
    bloat: Sequence[Row] = ()
    prepared: Sequence[Row] = ()
    checkpoints: Row | None = None
    temp: Sequence[Row] = ()
    in_recovery: bool = False


def judge(
    facts: PgHealthFacts,
    sessions: Sequence[Session],
    *,
    connections: int | None = None,
    max_connections: int | None = None,
) -> list[Finding]:
    out: list[Finding] = []
    out += xid_wraparound(facts)
    out += xmin_horizon(facts)
    out += replication_slots(facts)
    out += replication_lag(facts)
    out += sequence_exhaustion(facts.sequences)
    out += vacuum_overdue(facts.settings, facts.vacuum)
    out += bloat_estimate(facts.bloat)
    out += connections_near_limit(facts, connections, max_connections)
    out += long_transactions(sessions)
    out += prepared_transactions(facts.prepared)
    out += checkpoint_pressure(facts)
    out += temp_files(facts.temp)
    return out


def xid_wraparound(facts: PgHealthFacts) -> list[Finding]:
    freeze_max = setting_int(facts.settings, "autovacuum_freeze_max_age", 200_000_000)
    out: list[Finding] = []

    def severity(age: int) -> Severity | None:
        if age >= XID_CRITICAL:
            return Severity.CRITICAL
        if age >= freeze_max * XID_WARN_SHARE:
            return Severity.WARNING
        return None

    for row in facts.databases:
        age = int(row["xid_age"] or 0)
        sev = severity(age)
        if sev is not None:
            out.append(
                Finding(
                    "xid_wraparound",
                    f"database {row['datname']}",
                    f"database {row['datname']} is {age:,} transactions old "
                    f"({age / 2**31:.0%} of the way to the wraparound stop at 2^31; "
                    f"autovacuum_freeze_max_age is {freeze_max:,}): its oldest tables "
                    "need a freezing VACUUM",
                    sev,
                    extra=frozen(xid_age=age, freeze_max_age=freeze_max),
                )
            )
    for row in facts.tables_age:
        age = int(row["xid_age"] or 0)
        sev = severity(age)
        if sev is not None:
            out.append(
                Finding(
                    "xid_wraparound",
                    str(row["relation"]),
                    f"table {row['relation']} is {age:,} transactions old, past "
                    f"autovacuum_freeze_max_age ({freeze_max:,}): autovacuum is not freezing "
                    "it fast enough (blocked by the xmin horizon, or too slow)",
                    sev,
                    statement=f"VACUUM (FREEZE, VERBOSE) {row['relation']};",
                    extra=frozen(xid_age=age, freeze_max_age=freeze_max),
                )
            )
    return out


_HOLDER = {
    "session": "session {who} (its transaction or snapshot)",
    "slot": "replication slot {who}",
    "prepared": "prepared transaction {who}",
    "standby": "standby {who} (hot_standby_feedback)",
}


_SLOT_IN_USE = (
    "its consumer is connected: end the long queries on the standby (or turn its "
    "hot_standby_feedback off), or let the logical consumer catch up"
)


def _release(row: Row) -> str | None:
    who = str(row["who"])
    if row["holder"] == "session":
        return f"SELECT pg_terminate_backend({int(who)});" if who.isdigit() else None
    if row["holder"] == "slot":
        # an active slot cannot be dropped (its consumer is connected), nor should it be
        return (
            None if row.get("active") else f"SELECT pg_drop_replication_slot({quote_literal(who)});"
        )
    if row["holder"] == "prepared":
        return f"ROLLBACK PREPARED {quote_literal(who)};"
    return None


def xmin_horizon(facts: PgHealthFacts) -> list[Finding]:
    """The oldest holders of the horizon vacuum may not clean past, named."""
    out: list[Finding] = []
    for row in facts.horizon:
        xids = int(row["xid_age"] or 0)
        seconds = row.get("age_s")
        sev = level(xids, XMIN_WARN_XIDS, XMIN_CRITICAL_XIDS)
        if sev is None and seconds is not None and float(seconds) >= XMIN_WARN_S:
            sev = Severity.WARNING
        if sev is None:
            continue
        holder = _HOLDER.get(str(row["holder"]), "{who}").format(who=row["who"])
        in_use = row["holder"] == "slot" and bool(row.get("active"))
        if in_use:
            holder += " (in use: by a standby's queries, or a slow logical consumer)"
        held = f" for {duration(float(seconds))}" if seconds is not None else ""
        out.append(
            Finding(
                "xmin_horizon",
                f"{row['holder']} {row['who']}",
                f"{holder} holds the xmin horizon {xids:,} transactions back{held}: "
                "vacuum cannot remove rows deleted since, anywhere on the server",
                sev,
                statement=_release(row),
                warning=_SLOT_IN_USE
                if in_use
                else ("its consumer must then resync" if row["holder"] == "slot" else None),
                extra=frozen(holder=row["holder"], xid_age=xids, age_s=seconds),
            )
        )
    return out


def replication_slots(facts: PgHealthFacts) -> list[Finding]:
    max_wal = setting_int(facts.settings, "max_wal_size", 1024) * 1024 * 1024  # MB
    out: list[Finding] = []
    for row in facts.slots:
        name = str(row["slot_name"])
        retained = row.get("retained_bytes")
        retained_n = int(retained) if retained is not None else None
        status = row.get("wal_status")
        drop = f"SELECT pg_drop_replication_slot({quote_literal(name)});"
        facts_extra = frozen(
            slot_type=row.get("slot_type"),
            active=row.get("active"),
            retained_bytes=retained_n,
            wal_status=status,
            database=row.get("database"),
        )
        if not row.get("active"):
            sev = Severity.WARNING
            if status == "lost" or (retained_n or 0) >= SLOT_WAL_CRITICAL_BYTES:
                sev = Severity.CRITICAL
            out.append(
                Finding(
                    "replication_slot_inactive",
                    name,
                    f"{row.get('slot_type') or ''} replication slot {name} has no consumer "
                    f"connected and keeps {size(retained_n)} of WAL"
                    + (f" (wal_status {status})" if status else "")
                    + ": WAL piles up until the disk is full",
                    sev,
                    statement=drop,
                    warning="only if its consumer is gone for good: it must then resync",
                    extra=facts_extra,
                )
            )
        wal_sev = level(share(retained_n, max_wal), SLOT_WAL_WARN_SHARE, math.inf)
        if retained_n is not None and retained_n >= SLOT_WAL_CRITICAL_BYTES:
            wal_sev = Severity.CRITICAL
        if status in ("unreserved", "lost"):
            wal_sev = Severity.CRITICAL
        if wal_sev is not None:
            out.append(
                Finding(
                    "replication_slot_wal",
                    name,
                    f"replication slot {name} retains {size(retained_n)} of WAL, more than "
                    f"max_wal_size ({size(max_wal)})"
                    + (f"; wal_status is {status}" if status else ""),
                    wal_sev,
                    statement=drop if not row.get("active") else None,
                    extra=facts_extra,
                )
            )
    return out


def replication_lag(facts: PgHealthFacts) -> list[Finding]:
    out: list[Finding] = []
    for row in facts.replicas:
        name = str(row.get("name") or row.get("client") or "replica")
        seconds = row.get("replay_lag_s")
        lag_bytes = row.get("lag_bytes")
        sev_s = level(float(seconds) if seconds is not None else None, LAG_WARN_S, LAG_CRITICAL_S)
        sev_b = level(
            float(lag_bytes) if lag_bytes is not None else None, LAG_WARN_BYTES, LAG_CRITICAL_BYTES
        )
        sev = Severity.CRITICAL if Severity.CRITICAL in (sev_s, sev_b) else (sev_s or sev_b)
        if row.get("state") not in (None, "streaming") and sev is None:
            sev = Severity.WARNING
        if sev is None:
            continue
        out.append(
            Finding(
                "replication_lag",
                name,
                f"replica {name} ({row.get('state')}) replays "
                f"{duration(float(seconds)) if seconds is not None else '?'} and "
                f"{size(lag_bytes)} behind: reads there are stale, failover would lose them",
                sev,
                extra=frozen(replay_lag_s=seconds, lag_bytes=lag_bytes, state=row.get("state")),
            )
        )
    return out


def connections_near_limit(
    facts: PgHealthFacts, connections: int | None, max_connections: int | None
) -> list[Finding]:
    if connections is None or not max_connections:
        return []
    reserved = setting_int(facts.settings, "superuser_reserved_connections", 3)
    usable = max(max_connections - reserved, 1)
    used = share(connections, usable)
    sev = level(used, CONN_WARN, CONN_CRITICAL)
    if sev is None or used is None:
        return []
    return [
        Finding(
            "connections_near_limit",
            "max_connections",
            f"{connections} of {usable} connections a normal role may open are in use "
            f"({used:.0%}; max_connections {max_connections}, {reserved} reserved): new "
            "connections will be refused",
            sev,
            warning="use a connection pooler (PgBouncer) rather than raising max_connections",
            extra=frozen(connections=connections, usable=usable),
        )
    ]


def long_transactions(sessions: Sequence[Session]) -> list[Finding]:
    out: list[Finding] = []
    for s in sessions:
        age = s.xact_age_s
        if age is None or s.is_self or (s.state or "").startswith("idle in transaction"):
            continue
        if s.kind not in (None, "client backend"):
            continue  # autovacuum, walsenders: their own work, not a transaction to cancel
        sev = level(age, LONG_XACT_WARN_S, LONG_XACT_CRITICAL_S)
        if sev is None:
            continue
        who = f"{s.user or '?'}@{s.database or '?'}"
        out.append(
            Finding(
                "long_transaction",
                s.id,
                f"session {s.id} ({who}) has had a transaction open for {duration(age)}: "
                "it holds its locks and the xmin horizon",
                sev,
                statement=f"SELECT pg_cancel_backend({s.id});" if s.id.isdigit() else None,
                extra=frozen(xact_age_s=age, state=s.state),
            )
        )
    return out


def prepared_transactions(rows: Sequence[Row]) -> list[Finding]:
    out: list[Finding] = []
    for row in rows:
        gid = str(row["gid"])
        age = float(row.get("age_s") or 0)
        out.append(
            Finding(
                "prepared_transaction",
                gid,
                f"prepared transaction {gid!r} (owner {row.get('owner')}, database "
                f"{row.get('database')}) has waited {duration(age)} for COMMIT PREPARED: it "
                "keeps its locks and the xmin horizon, even across restarts",
                Severity.WARNING if age >= PREPARED_WARN_S else Severity.INFO,
                statement=f"ROLLBACK PREPARED {quote_literal(gid)};",
                warning=f"run it in database {row.get('database')}, once the transaction "
                "manager has given up on it",
                extra=frozen(age_s=round(age, 1), database=row.get("database")),
            )
        )
    return out


def checkpoint_pressure(facts: PgHealthFacts) -> list[Finding]:
    row = facts.checkpoints
    if not row:
        return []
    timed, requested = int(row.get("timed") or 0), int(row.get("requested") or 0)
    ratio = share(requested, timed + requested)
    if ratio is None or requested < CHECKPOINT_REQ_MIN or ratio < CHECKPOINT_REQ_WARN:
        return []
    max_wal = setting_int(facts.settings, "max_wal_size", 1024)
    return [
        Finding(
            "checkpoint_pressure",
            "checkpoints",
            f"{ratio:.0%} of checkpoints were requested ({requested} against {timed} timed): "
            f"WAL fills max_wal_size ({max_wal} MB) before checkpoint_timeout, so checkpoints "
            "come early and each write after them logs full pages",
            Severity.WARNING,
            statement=(
                f"ALTER SYSTEM SET max_wal_size = '{max_wal * 2}MB'; SELECT pg_reload_conf();"
            ),
            extra=frozen(timed=timed, requested=requested),
        )
    ]


def temp_files(rows: Sequence[Row]) -> list[Finding]:
    out: list[Finding] = []
    for row in rows:
        written = int(row.get("temp_bytes") or 0)
        if written < TEMP_WARN_BYTES:
            continue
        out.append(
            Finding(
                "temp_files",
                f"database {row['datname']}",
                f"queries in {row['datname']} wrote {int(row.get('temp_files') or 0):,} "
                f"temporary files ({size(written)}) since the statistics were reset: sorts "
                "and hashes spill to disk (work_mem too small for them)",
                Severity.INFO,
                warning="raise work_mem for the queries or roles that spill, not globally",
                extra=frozen(temp_bytes=written, temp_files=row.get("temp_files")),
            )
        )
    return out
