"""The header line for Redis: version, role, clients, memory, and the counters for rates.

For a cluster the counters are summed over the nodes (each is monotonic, so the sum is), and
``extra.nodes`` lists each node's own figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from dbtop.engines.redis.info import integer, keyspace, number, version_number
from dbtop.model import ServerSummary, frozen

#: Monotonic INFO counters; ``total_commands_processed`` is the header's OPS.
COUNTERS = (
    "total_commands_processed",
    "total_connections_received",
    "rejected_connections",
    "keyspace_hits",
    "keyspace_misses",
    "expired_keys",
    "evicted_keys",
    "total_net_input_bytes",
    "total_net_output_bytes",
    "total_error_replies",
    "total_reads_processed",
    "total_writes_processed",
    "sync_full",
    "used_cpu_sys",
    "used_cpu_user",
)
#: Figures worth seeing beside the header (memory above all: Redis lives in it).
EXTRA_FIELDS = (
    "redis_mode",
    "used_memory",
    "used_memory_rss",
    "used_memory_peak",
    "used_memory_lua",
    "maxmemory",
    "maxmemory_policy",
    "mem_fragmentation_ratio",
    "blocked_clients",
    "instantaneous_ops_per_sec",
    "connected_slaves",
    "master_host",
    "master_port",
    "master_link_status",
    "master_last_io_seconds_ago",
    "rdb_last_bgsave_status",
    "rdb_changes_since_last_save",
    "aof_enabled",
    "aof_last_write_status",
    "loading",
    "cluster_enabled",
    "rdb_bgsave_in_progress",
    "aof_rewrite_in_progress",
    "latest_fork_usec",
    "total_system_memory",
    "tracking_clients",
    "pubsub_clients",
)


def role_word(info: Mapping[str, str]) -> str | None:
    role = info.get("role")
    return {"slave": "replica"}.get(role or "", role)


def _typed(value: str) -> Any:
    parsed = integer(value) if value.lstrip("-").isdigit() else None
    if parsed is not None:
        return parsed
    as_float = number(value)
    return as_float if as_float is not None and "." in value else value


def node_figures(node: str, info: Mapping[str, str]) -> dict[str, Any]:
    figures: dict[str, Any] = {"node": node, "role": role_word(info)}
    for name in ("redis_version", "connected_clients", "used_memory", "blocked_clients"):
        if name in info:
            figures[name] = _typed(info[name])
    figures["keys"] = sum(d.keys for d in keyspace(dict(info)).values())
    return figures


def server_summary(
    infos: Sequence[tuple[str, Mapping[str, str]]],
    *,
    address: str,
    db: int,
    max_clients: int | None,
    cluster: bool,
    cluster_info: Mapping[str, str] | None = None,
) -> ServerSummary:
    """The summary of one server, or of a cluster from each node's INFO (first: the entry)."""
    if not infos:
        return ServerSummary(engine="redis", address=address, version="?")
    first = infos[0][1]
    counters: dict[str, float] = {}
    for _, info in infos:
        for name in COUNTERS:
            value = number(info.get(name))
            if value is not None:
                counters[name] = counters.get(name, 0.0) + value
    hits, misses = counters.get("keyspace_hits"), counters.get("keyspace_misses")
    ratio = hits / (hits + misses) if hits is not None and misses and hits + misses > 0 else None
    if ratio is None and hits:
        ratio = 1.0
    connections = sum(integer(info.get("connected_clients"), 0) or 0 for _, info in infos)
    extra: dict[str, Any] = {n: _typed(first[n]) for n in EXTRA_FIELDS if n in first}
    if cluster:
        extra["nodes"] = [node_figures(node, info) for node, info in infos]
        extra["used_memory"] = sum(integer(i.get("used_memory"), 0) or 0 for _, i in infos)
        if cluster_info:
            extra["cluster_state"] = cluster_info.get("cluster_state")
            extra["cluster_slots_ok"] = integer(cluster_info.get("cluster_slots_ok"))
            extra["cluster_known_nodes"] = integer(cluster_info.get("cluster_known_nodes"))
    version = first.get("redis_version", "?")
    masters = sum(1 for _, info in infos if info.get("role") == "master")
    role = (
        f"cluster ({masters} masters, {len(infos) - masters} replicas)"
        if cluster
        else role_word(first)
    )
    return ServerSummary(
        engine="redis",
        address=address,
        version=version,
        version_num=version_number(version),
        uptime_s=number(first.get("uptime_in_seconds")),
        role=role,
        replication_lag_s=number(first.get("master_last_io_seconds_ago"))
        if first.get("role") == "slave"
        else None,
        connections=connections,
        max_connections=max_clients,
        cache_hit_ratio=ratio,
        database=f"db{db}",
        counters=frozen(counters),
        throughput_counter="total_commands_processed",
        throughput_label="OPS",
        extra=frozen(extra),
    )


def stale_summary(last: ServerSummary) -> ServerSummary:
    """Busy everywhere: the last header, marked stale, without counters (no rates)."""
    return replace(last, counters=frozen(), extra=frozen(last.extra, stale=True))
