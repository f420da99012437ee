"""The Slow log pane: INFO commandstats as Statements, SLOWLOG entries as SlowEvents.

A Statement is one command (its id is the command name as Redis counts it: ``get``,
``client|list``), with cumulative calls and time; analysis/ turns two polls into calls/s and
ms/s. The engine adds the rejected and failed calls per second over its own interval, and the
latency percentiles of INFO latencystats (Redis 7+, cumulative since start-up).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from dbtop.engines.redis.commands import display_name, join_command
from dbtop.engines.redis.info import CommandStat, integer, text
from dbtop.model import SlowEvent, Statement, frozen

_MORE_ARGS = re.compile(rb"^\.\.\. \((\d+) more arguments\)$")
_MORE_BYTES = re.compile(rb"\.\.\. \((\d+) more bytes\)$")


def command_statement(
    stat: CommandStat,
    *,
    percentiles: Mapping[str, float] | None = None,
    previous: CommandStat | None = None,
    interval_s: float | None = None,
    node: str | None = None,
) -> Statement:
    extra: dict[str, Any] = {
        "rejected_calls": stat.rejected_calls,
        "failed_calls": stat.failed_calls,
        "usec_per_call": stat.usec_per_call,
    }
    for name, usec in (percentiles or {}).items():
        # p50, p99, p99.9 in µs -> p50_ms, p99_ms, p99_9_ms
        extra[f"{name.replace('.', '_')}_ms"] = usec / 1000
    rates = _interval_rates(stat, previous, interval_s)
    if rates:
        extra.update(rates)
    return Statement(
        id=stat.name,
        query=display_name(stat.name),
        calls=stat.calls,
        total_ms=stat.usec / 1000,
        mean_ms=stat.usec / stat.calls / 1000 if stat.calls else None,
        node=node,
        extra=frozen(extra),
        counters=frozen(rejected_calls=stat.rejected_calls, failed_calls=stat.failed_calls),
    )


def _interval_rates(
    stat: CommandStat, previous: CommandStat | None, interval_s: float | None
) -> dict[str, float]:
    if previous is None or not interval_s or interval_s <= 0:
        return {}
    rates: dict[str, float] = {}
    for name in ("rejected_calls", "failed_calls"):
        diff = getattr(stat, name) - getattr(previous, name)
        if diff >= 0:  # a reset (CONFIG RESETSTAT) gives no rate
            rates[f"{name}_s"] = diff / interval_s
    return rates


def merge_command_stats(
    per_node: Mapping[str, Mapping[str, CommandStat]],
) -> dict[str, CommandStat]:
    """The cluster-wide figure of each command: the sum over the nodes."""
    merged: dict[str, CommandStat] = {}
    for stats in per_node.values():
        for name, stat in stats.items():
            total = merged.get(name)
            if total is None:
                merged[name] = stat
                continue
            calls = total.calls + stat.calls
            usec = total.usec + stat.usec
            merged[name] = CommandStat(
                name=name,
                calls=calls,
                usec=usec,
                usec_per_call=usec / calls if calls else None,
                rejected_calls=total.rejected_calls + stat.rejected_calls,
                failed_calls=total.failed_calls + stat.failed_calls,
            )
    return merged


def slow_event(entry: Sequence[Any], *, node: str | None, prefix: str) -> SlowEvent | None:
    """One SLOWLOG GET entry: id, unix time, µs, arguments, client address, client name."""
    if not isinstance(entry, list | tuple) or len(entry) < 4:
        return None
    entry_id = integer(entry[0])
    timestamp = integer(entry[1])
    micros = integer(entry[2], 0) or 0
    raw_args = [bytes(a) if isinstance(a, bytes | bytearray) else str(a).encode() for a in entry[3]]
    more_args = 0
    if raw_args and (match := _MORE_ARGS.match(raw_args[-1])):
        more_args = int(match.group(1))
        raw_args = raw_args[:-1]
    truncated_args = [i for i, a in enumerate(raw_args) if _MORE_BYTES.search(a)]
    query = join_command(raw_args)
    if more_args:
        query += f" … ({more_args} more arguments)"
    command = display_name(raw_args[0].decode("utf-8", "replace")) if raw_args else ""
    client = text(entry[4]) if len(entry) > 4 else None
    name = text(entry[5]) if len(entry) > 5 else None
    return SlowEvent(
        id=f"{prefix}{entry_id}",
        query=query,
        duration_ms=micros / 1000,
        at=datetime.fromtimestamp(timestamp, UTC) if timestamp is not None else None,
        client=client or None,
        node=node,
        extra=frozen(
            slowlog_id=entry_id,
            command=command,
            client_name=name or None,
            args=len(raw_args) + more_args,
            more_arguments=more_args,
            truncated_args=truncated_args,
        ),
    )
