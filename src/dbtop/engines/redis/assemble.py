"""Node polls -> the rows of one Snapshot: clients, blocked waits, commands, slow log, dbs.

In a cluster every row carries its node, and ids that repeat across nodes (client ids,
slow-log ids) are prefixed with it: ``127.0.0.1:7001/12``. Commands are summed over the
nodes (their id stays the command name) with each node's calls in ``extra.by_node``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dbtop.engines.redis.collect import (
    CLOCK_REFRESH_S,
    ClientPace,
    InfoPace,
    KeptSession,
    NodePoll,
)
from dbtop.engines.redis.commands import PAUSE, BlockingKind
from dbtop.engines.redis.info import (
    CommandStat,
    commandstats,
    errorstats,
    integer,
    keyspace,
    latencystats,
    text,
)
from dbtop.engines.redis.locks import blocked_edges, pause_session, script_edges, script_session
from dbtop.engines.redis.sessions import client_session
from dbtop.engines.redis.statements import command_statement, merge_command_stats, slow_event
from dbtop.model import (
    Feature,
    LockWait,
    Notice,
    Session,
    Severity,
    SlowEvent,
    Statement,
    TableStat,
    frozen,
)


@dataclass(slots=True)
class Rows:
    sessions: list[Session] = field(default_factory=list)
    lock_waits: list[LockWait] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)
    slow_events: list[SlowEvent] = field(default_factory=list)
    tables: list[TableStat] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    latency: list[dict[str, Any]] = field(default_factory=list)
    errors: dict[str, dict[str, int]] = field(default_factory=dict)


def prefix_for(node: str, cluster: bool) -> str:
    return f"{node}/" if cluster else ""


def client_rows(
    poll: NodePoll,
    rows: Rows,
    *,
    now: datetime,
    cluster: bool,
    self_ids: set[int],
    clock: float | None = None,
    refresh_s: float = CLOCK_REFRESH_S,
) -> None:
    """Each client's Session. An idle client whose line has not changed but for its clocks
    (the kept list of a quiet server, or a list read again) keeps its Session, made again
    with its clocks moved on every ``refresh_s``: thousands of idle clients are not rebuilt
    (nor converted again for the history) every refresh."""
    node = poll.node if cluster else None
    prefix = prefix_for(poll.node, cluster)
    clock = time.monotonic() if clock is None else clock
    own = frozenset(self_ids)
    whole = poll.kept_list
    if (
        whole is not None
        and whole.rows is poll.clients
        and whole.own == own
        and clock - whole.oldest < refresh_s
    ):
        rows.sessions.extend(whole.sessions)
        return
    blocked: list[tuple[Session, BlockingKind]] = []
    built = poll.built
    shift = poll.clients_shift_s
    present: set[str] | None = set() if poll.clients_fetched else None
    first = len(rows.sessions)
    all_kept, oldest = True, clock
    for row in poll.clients:
        client_id = row.raw("id") or ""
        if present is not None:
            present.add(client_id)
        known = built.get(client_id)
        if (
            known is not None
            and known.own == own
            and clock - known.made_at < refresh_s
            and (known.row is row or (not known.mine and row.unchanged_since(known.row)))
        ):
            known.row = row  # the next poll of a kept list finds it by identity
            rows.sessions.append(known.session)
            oldest = min(oldest, known.made_at)
            continue
        # dbtop's own connection ran the very CLIENT LIST it is in: its clocks do not move
        mine = client_id.isdigit() and int(client_id) in own
        line = row.aged(shift) if shift and not mine else row
        session, kind = client_session(line, now=now, node=node, prefix=prefix, self_ids=self_ids)
        if (
            kind is None
            and (session.is_idle or mine)
            and isinstance(line.get("server_time_usec"), int)
        ):
            built[client_id] = KeptSession(row, session, own, clock, mine)
        else:
            all_kept = False
            if known is not None:
                del built[client_id]
        rows.sessions.append(session)
        if kind is not None:
            blocked.append((session, kind))
    if present is not None:
        for gone in built.keys() - present:
            del built[gone]  # disconnected: its Session is history
    if whole is not None:
        whole.rows = poll.clients if all_kept else None
        whole.own, whole.sessions, whole.oldest = own, rows.sessions[first:], oldest
    rows.lock_waits.extend(blocked_edges(blocked, now=now, prefix=prefix))
    paused = sum(1 for _, kind in blocked if kind is PAUSE)
    if paused:
        rows.sessions.append(pause_session(paused, node=node, prefix=prefix))


def busy_rows(
    poll: NodePoll,
    rows: Rows,
    *,
    now: datetime,
    cluster: bool,
    previous: Sequence[Session],
    previous_at: datetime | None,
) -> None:
    """A busy script holds the whole node: show it, and who was connected at the last poll."""
    assert poll.busy is not None
    node = poll.node if cluster else None
    prefix = prefix_for(poll.node, cluster)
    script = script_session(
        node=node,
        prefix=prefix,
        command=poll.busy.command,
        name=poll.busy.function,
        duration_s=poll.busy.duration_s,
        now=now,
    )
    stale = [
        s
        for s in previous
        if s.node == node and not s.is_self and s.kind not in ("script", "pause")
    ]
    rows.sessions.append(script)
    rows.sessions.extend(stale)
    rows.lock_waits.extend(script_edges(stale, prefix=prefix))
    when = f" (as of {previous_at:%H:%M:%S} UTC)" if previous_at else ""
    rows.notices.append(
        Notice(
            feature=Feature.LOCKS,
            message=f"{poll.node}: a script or function has run past busy-reply-threshold and "
            f"blocks every client; only SCRIPT KILL / FUNCTION KILL are answered. "
            f"The client list is the last one seen{when}.",
            hint=f"k on {script.id} kills the script (SCRIPT KILL, or FUNCTION KILL for a "
            "function); a script that already wrote cannot be killed",
            severity=Severity.CRITICAL,
        )
    )


def statement_rows(
    polls: Sequence[NodePoll],
    rows: Rows,
    *,
    cluster: bool,
    previous: Mapping[str, Mapping[str, CommandStat]],
    interval_s: float | None,
) -> dict[str, dict[str, CommandStat]]:
    """Commandstats rows; returns this poll's stats per node (for the next interval)."""
    per_node = {p.node: commandstats(p.info) for p in polls if p.ok}
    if not cluster:
        for poll in polls:
            if not poll.ok:
                continue
            latency = latencystats(poll.info)
            before = previous.get(poll.node, {})
            for name, stat in per_node[poll.node].items():
                rows.statements.append(
                    command_statement(
                        stat,
                        percentiles=latency.get(name),
                        previous=before.get(name),
                        interval_s=interval_s,
                    )
                )
        return per_node
    merged = merge_command_stats(per_node)
    merged_before = (
        merge_command_stats({n: s for n, s in previous.items() if n in per_node})
        if previous
        else {}
    )
    for name, stat in merged.items():
        statement = command_statement(stat, previous=merged_before.get(name), interval_s=interval_s)
        by_node = {
            node: {"calls": stats[name].calls, "usec": stats[name].usec}
            for node, stats in per_node.items()
            if name in stats
        }
        rows.statements.append(
            Statement(
                id=statement.id,
                query=statement.query,
                calls=statement.calls,
                total_ms=statement.total_ms,
                mean_ms=statement.mean_ms,
                extra=frozen(statement.extra, by_node=by_node),
            )
        )
    return per_node


def slowlog_rows(poll: NodePoll, rows: Rows, *, cluster: bool, own_name: str | None) -> None:
    """Slow-log entries, without dbtop's own (with a low threshold they would crowd it): by
    client name, and by address for what a connection sends before it is named (AUTH)."""
    if not poll.slowlog:
        return  # no pass over thousands of clients for dbtop's own addresses
    node = poll.node if cluster else None
    own_addresses = {s.client for s in rows.sessions if s.is_self and s.client}
    prefix = prefix_for(poll.node, cluster)
    for entry in poll.slowlog:
        event = slow_event(entry, node=node, prefix=prefix)
        if event is None:
            continue
        if own_name and event.extra.get("client_name") == own_name:
            continue
        if event.client in own_addresses:
            continue
        rows.slow_events.append(event)


def table_rows(poll: NodePoll, rows: Rows, *, cluster: bool) -> dict[int, int]:
    """One TableStat per database with keys; returns db -> keys for the sampler."""
    node = poll.node if cluster else None
    sizes: dict[int, int] = {}
    for db, figures in keyspace(poll.info).items():
        sizes[db] = figures.keys
        rows.tables.append(
            TableStat(
                schema=None,
                table=f"db{db}",
                live_rows=figures.keys,
                node=node,
                extra=frozen(
                    expires=figures.expires,
                    avg_ttl_s=figures.avg_ttl_ms / 1000 if figures.avg_ttl_ms else None,
                    no_ttl_share=1 - figures.expires / figures.keys if figures.keys else None,
                ),
            )
        )
    return sizes


def latency_rows(poll: NodePoll, rows: Rows, *, cluster: bool) -> None:
    for entry in poll.latency:
        if not isinstance(entry, list) or len(entry) < 4:
            continue
        at = integer(entry[1])
        rows.latency.append(
            {
                "node": poll.node if cluster else None,
                "event": text(entry[0]),
                "at": datetime.fromtimestamp(at, UTC).isoformat() if at is not None else None,
                "latest_ms": integer(entry[2]),
                "max_ms": integer(entry[3]),
            }
        )
    errors = errorstats(poll.info)
    if errors:
        rows.errors[poll.node] = errors


def snapshot_extra(
    polls: Sequence[NodePoll],
    rows: Rows,
    sampling: dict[str, Any],
    *,
    paces: Mapping[str, ClientPace],
    cluster_nodes: list[dict[str, Any]] | None,
    info_paces: Mapping[str, InfoPace] | None = None,
) -> dict[str, Any]:
    """The snapshot's ``extra`` (docs/engines/redis.md lists the keys)."""
    now = time.monotonic()
    extra: dict[str, Any] = {
        "sampling": sampling,
        "latency_events": rows.latency,
        "errorstats": rows.errors,
        "poll_ms": {p.node: round(p.elapsed_ms, 2) for p in polls},
        # how old each node's client list is: CLIENT LIST is fetched less often when it
        # costs the server more than 1% of its time (tens of thousands of clients)
        "clients_age_s": {node: round(pace.age_s(now), 3) for node, pace in paces.items()},
        "client_list_ms": {node: round(pace.cost_ms, 3) for node, pace in paces.items()},
    }
    if info_paces:
        # the commands' latency percentiles are read every LATENCYSTATS_EVERY_S
        extra["latencystats_age_s"] = {
            node: round(pace.age_s(now), 3) for node, pace in info_paces.items()
        }
    if cluster_nodes is not None:
        extra["cluster_nodes"] = cluster_nodes
    return extra


def node_rows(
    poll: NodePoll,
    rows: Rows,
    *,
    now: datetime,
    cluster: bool,
    self_ids: set[int],
    own_name: str | None,
    refresh_s: float = CLOCK_REFRESH_S,
) -> dict[int, int]:
    """One answering node's clients, slow log, databases and latency events into ``rows``;
    its keys per database."""
    client_rows(poll, rows, now=now, cluster=cluster, self_ids=self_ids, refresh_s=refresh_s)
    slowlog_rows(poll, rows, cluster=cluster, own_name=own_name)
    sizes = table_rows(poll, rows, cluster=cluster)
    latency_rows(poll, rows, cluster=cluster)
    return sizes
