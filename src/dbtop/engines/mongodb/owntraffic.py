"""dbtop's own commands on MongoDB, kept out of the figures it shows.

serverStatus's ``opcounters`` count every command the server ran, dbtop's included: its
serverStatus, $currentOp, profiler reads, $indexStats and collStats each poll, the driver's
heartbeats and connection handshakes. pymongo reports each of them to a listener
(``OwnCommands``): commands by name (``find`` is a query, ``getMore`` a getmore, a write a
write, anything else a command, as mongod files them), heartbeats and new connections as
one ``hello`` each. The header's ops/s is then the server's count less dbtop's.

serverStatus is read on its own, before the poll's other reads start, so that every command
of dbtop's counted so far has reached the server and none is in flight: the difference is
exact but for what runs beside the poll (a heartbeat, a handshake), which can only move a
command from one interval to the next; the figures shown never go down (a command dbtop
counted before the server did is not a counter reset). Not seen by any listener: the
driver's round-trip pings on the streaming protocol (one per heartbeat period, 10 s by
default): at most 0.1 command/s of dbtop's may remain in ``ops_command``.

dbtop's operations in $currentOp are marked ``is_self`` by the application name it connects
with (and the header counts leave them out); profiler entries with that name are not read
into Slow queries.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from pymongo import monitoring

#: opcounters category of a command, as mongod counts it
_CATEGORY = {
    "find": "query",
    "getmore": "getmore",
    "insert": "insert",
    "update": "update",
    "delete": "delete",
}
_CATEGORIES = ("insert", "query", "update", "delete", "getmore", "command")


class OwnCounts:
    """How many operations of each opcounters category dbtop has sent (thread-safe: pymongo
    calls its listeners from its monitor threads too)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sent: dict[str, int] = dict.fromkeys(_CATEGORIES, 0)
        self._shown: dict[str, float] = {}

    def add(self, command_name: str) -> None:
        category = _CATEGORY.get(command_name.lower(), "command")
        with self._lock:
            self.sent[category] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.sent)

    def exclude(self, counters: Mapping[str, float], sent: Mapping[str, int]) -> dict[str, float]:
        """``counters`` (summary.counters) less ``sent``, never below what was shown."""
        out = dict(counters)
        total = 0.0
        seen = False
        for category in _CATEGORIES:
            key = f"ops_{category}"
            if key not in counters:
                continue
            seen = True
            value = max(counters[key] - sent.get(category, 0), self._shown.get(key, 0.0))
            self._shown[key] = out[key] = value
            total += value
        if seen:
            out["ops"] = total
        return out


class OwnCommands(monitoring.CommandListener):
    def __init__(self, counts: OwnCounts) -> None:
        self.counts = counts

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.counts.add(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        return None

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        return None


class OwnHeartbeats(monitoring.ServerHeartbeatListener):
    """Each heartbeat is a hello on the monitor's connection."""

    def __init__(self, counts: OwnCounts) -> None:
        self.counts = counts

    def started(self, event: monitoring.ServerHeartbeatStartedEvent) -> None:
        self.counts.add("hello")

    def succeeded(self, event: monitoring.ServerHeartbeatSucceededEvent) -> None:
        return None

    def failed(self, event: monitoring.ServerHeartbeatFailedEvent) -> None:
        return None


class OwnHandshakes(monitoring.ConnectionPoolListener):
    """Each new pooled connection opens with a hello."""

    def __init__(self, counts: OwnCounts) -> None:
        self.counts = counts

    def connection_created(self, event: monitoring.ConnectionCreatedEvent) -> None:
        self.counts.add("hello")

    def pool_created(self, event: monitoring.PoolCreatedEvent) -> None:
        return None

    def pool_ready(self, event: monitoring.PoolReadyEvent) -> None:
        return None

    def pool_cleared(self, event: monitoring.PoolClearedEvent) -> None:
        return None

    def pool_closed(self, event: monitoring.PoolClosedEvent) -> None:
        return None

    def connection_ready(self, event: monitoring.ConnectionReadyEvent) -> None:
        return None

    def connection_closed(self, event: monitoring.ConnectionClosedEvent) -> None:
        return None

    def connection_check_out_started(
        self, event: monitoring.ConnectionCheckOutStartedEvent
    ) -> None:
        return None

    def connection_check_out_failed(self, event: monitoring.ConnectionCheckOutFailedEvent) -> None:
        return None

    def connection_checked_out(self, event: monitoring.ConnectionCheckedOutEvent) -> None:
        return None

    def connection_checked_in(self, event: monitoring.ConnectionCheckedInEvent) -> None:
        return None


def listeners(counts: OwnCounts) -> list[monitoring._EventListener]:
    return [OwnCommands(counts), OwnHeartbeats(counts), OwnHandshakes(counts)]
