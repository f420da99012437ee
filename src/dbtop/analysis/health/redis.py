"""Redis health beyond the anti-pattern findings every poll already has (persistence
failures, fragmentation, eviction policy, client limits, replication link down:
engines/redis/antipatterns.py): memory near maxmemory with the evictions it causes,
replicas behind in offset or acknowledgement, clients blocked, big keys the sample found.
All from INFO (memory, stats, clients, replication) and the keyspace sample: no extra
round trip.

The thresholds are the constants below (docs/health.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dbtop.analysis.health import level, share, size
from dbtop.model import Finding, KeyPattern, Severity, frozen

#: used_memory against maxmemory
MEMORY_WARN, MEMORY_CRITICAL = 0.90, 0.98
#: a replica behind the master's offset, bytes; or not acknowledging, seconds
REPLICA_LAG_WARN_BYTES, REPLICA_LAG_CRITICAL_BYTES = 1024**2, 64 * 1024**2
REPLICA_ACK_WARN_S, REPLICA_ACK_CRITICAL_S = 10, 60
#: a replica whose master said nothing for this long (master_last_io_seconds_ago)
MASTER_SILENT_S = 30
#: clients blocked in BLPOP/XREAD/WAIT…: information (queues do it on purpose), a warning
#: when they are most of the clients
BLOCKED_WARN_SHARE = 0.5
BLOCKED_WARN_MIN = 10
#: a sampled key this big is a big key (as the advisor's)
BIG_KEY_BYTES = 10 * 1024 * 1024


def _int(info: Mapping[str, str], name: str) -> int | None:
    try:
        return int(float(info[name]))
    except (KeyError, ValueError):
        return None


def replica_lines(info: Mapping[str, str]) -> list[dict[str, str]]:
    """``slave0:ip=…,port=…,state=online,offset=…,lag=…`` lines of INFO replication."""
    out: list[dict[str, str]] = []
    for name, value in info.items():
        if name.startswith("slave") and name[5:].isdigit() and "=" in value:
            out.append(dict(part.split("=", 1) for part in value.split(",") if "=" in part))
    return out


def judge(
    info: Mapping[str, str],
    config: Mapping[str, str],
    *,
    node: str | None = None,
    evicted_per_s: float | None = None,
    keyspace: Sequence[KeyPattern] = (),
) -> list[Finding]:
    obj = node or "server"
    out: list[Finding] = []
    out += memory(info, config, obj, evicted_per_s)
    out += replication(info, obj)
    out += blocked(info, obj)
    out += big_keys(keyspace, node)
    return out


def memory(
    info: Mapping[str, str], config: Mapping[str, str], obj: str, evicted_per_s: float | None
) -> list[Finding]:
    used = _int(info, "used_memory")
    try:
        limit = int(config.get("maxmemory") or info.get("maxmemory") or 0)
    except ValueError:
        limit = 0
    ratio = share(used, limit)
    sev = level(ratio, MEMORY_WARN, MEMORY_CRITICAL)
    evicted = _int(info, "evicted_keys") or 0
    if sev is None or ratio is None:
        return []
    policy = config.get("maxmemory-policy") or info.get("maxmemory_policy") or "?"
    if policy != "noeviction" and sev is Severity.CRITICAL and not evicted_per_s:
        sev = Severity.WARNING  # full, but evicting nothing right now
    rate = f", {evicted_per_s:,.0f} keys/s now" if evicted_per_s else ""
    return [
        Finding(
            "memory_near_limit",
            obj,
            f"{obj} uses {size(used)} of maxmemory {size(limit)} ({ratio:.0%}), "
            f"maxmemory-policy {policy}: "
            + (
                "writes fail with OOM at the limit"
                if policy == "noeviction"
                else f"{evicted:,} keys evicted since start-up{rate}"
            ),
            sev,
            statement="CONFIG SET maxmemory <more bytes>",
            warning="or expire / delete data; for a cache, evictions may be expected",
            extra=frozen(
                used_memory=used,
                maxmemory=limit,
                policy=policy,
                evicted_keys=evicted,
                evicted_per_s=evicted_per_s,
            ),
        )
    ]


def replication(info: Mapping[str, str], obj: str) -> list[Finding]:
    out: list[Finding] = []
    master_offset = _int(info, "master_repl_offset")
    for line in replica_lines(info):
        name = f"{line.get('ip', '?')}:{line.get('port', '?')}"
        try:
            offset = int(line.get("offset", ""))
        except ValueError:
            offset = None
        behind = (
            master_offset - offset if master_offset is not None and offset is not None else None
        )
        try:
            ack = int(line.get("lag", ""))
        except ValueError:
            ack = None
        sev_b = level(behind, REPLICA_LAG_WARN_BYTES, REPLICA_LAG_CRITICAL_BYTES)
        sev_a = level(ack, REPLICA_ACK_WARN_S, REPLICA_ACK_CRITICAL_S)
        sev = Severity.CRITICAL if Severity.CRITICAL in (sev_a, sev_b) else (sev_a or sev_b)
        state = line.get("state")
        if state != "online" and sev is None:
            sev = Severity.WARNING
        if sev is None:
            continue
        out.append(
            Finding(
                "replication_lag",
                name,
                f"replica {name} of {obj} is {state}, {size(behind)} behind the master's offset, "
                f"last acknowledged {ack if ack is not None else '?'} s ago",
                sev,
                extra=frozen(state=state, behind_bytes=behind, ack_lag_s=ack),
            )
        )
    if info.get("role") == "slave" and info.get("master_link_status") == "up":
        silent = _int(info, "master_last_io_seconds_ago")
        if silent is not None and silent >= MASTER_SILENT_S:
            out.append(
                Finding(
                    "replication_lag",
                    obj,
                    f"{obj}'s master {info.get('master_host')}:{info.get('master_port')} has sent "
                    f"nothing for {silent} s: the link is up but the data may be stale",
                    Severity.WARNING,
                    extra=frozen(master_last_io_s=silent),
                )
            )
    return out


def blocked(info: Mapping[str, str], obj: str) -> list[Finding]:
    count = _int(info, "blocked_clients") or 0
    if not count:
        return []
    clients = _int(info, "connected_clients")
    ratio = share(count, clients)
    heavy = count >= BLOCKED_WARN_MIN and ratio is not None and ratio >= BLOCKED_WARN_SHARE
    return [
        Finding(
            "blocked_clients",
            obj,
            f"{count} of {clients if clients is not None else '?'} clients of {obj} are blocked "
            "in BLPOP / BRPOP / XREAD / WAIT …: fine for idle queue workers, not when "
            "producers are missing (see the Blocked pane)",
            Severity.WARNING if heavy else Severity.INFO,
            extra=frozen(blocked_clients=count, connected_clients=clients),
        )
    ]


def big_keys(keyspace: Sequence[KeyPattern], node: str | None) -> list[Finding]:
    out: list[Finding] = []
    for pattern in keyspace:
        if node is not None and pattern.node != node:
            continue
        biggest = pattern.biggest_key_bytes or 0
        if pattern.biggest_key is None or biggest < BIG_KEY_BYTES:
            continue
        out.append(
            Finding(
                "big_key",
                pattern.biggest_key,
                f"key {pattern.biggest_key} ({pattern.type or '?'}, {pattern.database or ''}) "
                f"holds {size(biggest)}: an O(N) command or a DEL on it blocks the server",
                Severity.WARNING,
                statement=f"UNLINK {pattern.biggest_key}",
                warning="only once nothing needs it; or split it into smaller keys",
                extra=frozen(memory_bytes=biggest, pattern=pattern.pattern),
            )
        )
    return out
