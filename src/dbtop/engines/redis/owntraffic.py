"""dbtop's own traffic, left out of the figures it shows (docs/engines/redis.md, "Own
traffic").

Every command a Link sends is counted here, per the name INFO commandstats gives it. The
server's counters in an INFO reply include every command this connection sent before that
INFO (a connection's commands run in order), so the counts as of the INFO are subtracted
from ``total_commands_processed`` and from each ``cmdstat_*`` line. Both sides are running
totals, so the adjusted counters stay monotonic and analysis/rates.py differences them as
usual: the rate left is the other clients'.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: Commands INFO commandstats counts per subcommand (``client|list``) on Redis 7+.
_CONTAINERS = frozenset(
    {
        "acl", "client", "cluster", "command", "config", "function", "latency", "memory",
        "module", "object", "pubsub", "script", "slowlog", "xgroup", "xinfo",
    }
)  # fmt: skip
#: A command's latency percentiles are dropped when dbtop made at least this share of its
#: calls: the server's histogram cannot be split, and it would describe dbtop.
OWN_LATENCY_SHARE = 0.5


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def stat_name(args: Sequence[Any]) -> str:
    """The name INFO commandstats gives this command: ``type``, ``memory|usage``."""
    name = _text(args[0]).lower() if args else ""
    if name in _CONTAINERS and len(args) > 1:
        return f"{name}|{_text(args[1]).lower()}"
    return name


@dataclass(frozen=True, slots=True)
class OwnCount:
    """Cumulative commands sent, per commandstats name, at one moment."""

    total: int
    by_name: dict[str, int]
    at: float


class OwnLedger:
    """The running count of one connection's commands."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.total = 0
        #: the counts as of the last INFO sent and the one before it
        self.at_info: OwnCount | None = None
        self.before_info: OwnCount | None = None
        #: what is subtracted is counted from here: moved on when the server's counters
        #: restart (server restart, CONFIG RESETSTAT)
        self._base = OwnCount(0, {}, 0.0)
        self._raw_total: int | None = None
        #: per command line: the server's calls and usec last seen, and the usec left to
        #: the other clients so far (kept as a running total so that it never goes down)
        self._usec: dict[str, tuple[int, int, int, int]] = {}

    def count(self, args: Sequence[Any]) -> None:
        name = stat_name(args)
        if name == "info":
            self.before_info = self.at_info
            self.at_info = OwnCount(self.total, dict(self.calls), time.monotonic())
        self.calls[name] += 1
        self.total += 1

    def exclude(self, info: dict[str, str]) -> dict[str, str]:
        """``info`` (parsed INFO) without this connection's own commands."""
        own = self.at_info
        if own is None:
            return info
        raw_total = _int(info.get("total_commands_processed"))
        if raw_total is not None:
            if self._raw_total is not None and raw_total < self._raw_total:
                # The server's counters restarted (restart, CONFIG RESETSTAT) after our last
                # INFO: what we sent from then on is what the new counters may hold.
                self._base = _after(self.before_info) if self.before_info else own
            self._raw_total = raw_total
        base = self._base
        out = dict(info)
        if raw_total is not None:
            out["total_commands_processed"] = str(max(raw_total - (own.total - base.total), 0))
        self._exclude_rate(out)
        mine: Counter[str] = Counter()
        for name, calls in own.by_name.items():
            key = f"cmdstat_{name}"
            if key not in out and "|" in name:
                key = f"cmdstat_{name.split('|')[0]}"  # Redis < 7 counts the container only
            mine[key] += max(calls - base.by_name.get(name, 0), 0)
        # every line, also those dbtop has not sent yet: its time must be followed from the
        # start for the figure to stay monotonic once dbtop's calls are taken out of it
        for key in [k for k in out if k.startswith("cmdstat_")]:
            self._exclude_line(out, key, mine[key])
        return out

    def _exclude_line(self, out: dict[str, str], key: str, mine: int) -> None:
        line = out[key]
        fields = dict(part.split("=", 1) for part in line.split(",") if "=" in part)
        calls = _int(fields.get("calls")) or 0
        usec = _int(fields.get("usec")) or 0
        left = calls - mine
        command = key[len("cmdstat_") :]
        if calls and mine / calls >= OWN_LATENCY_SHARE:
            out.pop(f"latency_percentiles_usec_{command}", None)
        if left <= 0:
            del out[key]  # nobody but dbtop ran it
            self._usec.pop(command, None)
            return
        # The server's time is not split by client: the mean per call over each interval is
        # taken as everyone's, and the others' share of each interval's time is added up, so
        # the figure never goes down between two polls.
        seen = self._usec.get(command)
        if seen is None or calls < seen[0] or usec < seen[1] or left < seen[2]:
            others_usec = usec * left // calls
        else:
            raw_calls, raw_usec, before_left, others_usec = seen
            new_calls = calls - raw_calls
            if new_calls:
                others_usec += (usec - raw_usec) * (left - before_left) // new_calls
        self._usec[command] = (calls, usec, left, others_usec)
        fields["calls"] = str(left)
        fields["usec"] = str(others_usec)
        if "usec_per_call" in fields:
            fields["usec_per_call"] = f"{others_usec / left:.2f}"
        out[key] = ",".join(f"{k}={v}" for k, v in fields.items())

    def _exclude_rate(self, out: dict[str, str]) -> None:
        """instantaneous_ops_per_sec is the server's recent rate: take ours over the last
        interval between two INFOs away from it."""
        own, before = self.at_info, self.before_info
        ops = _int(out.get("instantaneous_ops_per_sec"))
        if ops is None or own is None or before is None or own.at <= before.at:
            return
        mine = (own.total - before.total) / (own.at - before.at)
        out["instantaneous_ops_per_sec"] = str(max(round(ops - mine), 0))


def _after(count: OwnCount) -> OwnCount:
    """The counts just after the INFO they were taken for."""
    by_name = dict(count.by_name)
    by_name["info"] = by_name.get("info", 0) + 1
    return OwnCount(count.total + 1, by_name, count.at)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
