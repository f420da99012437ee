"""The header line: counters from SHOW GLOBAL STATUS, settings, replication.

SHOW GLOBAL STATUS / VARIABLES with a WHERE list read the same on MariaDB and MySQL 8
(where information_schema.GLOBAL_STATUS is gone). Counters are cumulative; analysis/ turns
two polls into per-second rates. ``blks_hit`` / ``blks_read`` are InnoDB buffer-pool
logical reads that hit and physical reads, under the names analysis/rates.py uses for the
hit ratio over the interval.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dbtop.engines.mysql.flavor import VARIABLES, Flavor
from dbtop.model import ServerSummary, frozen

COUNTERS = (
    "Questions",
    "Queries",
    "Com_select",
    "Com_insert",
    "Com_update",
    "Com_delete",
    "Com_commit",
    "Com_rollback",
    "Bytes_received",
    "Bytes_sent",
    "Slow_queries",
    "Select_scan",
    "Select_full_join",
    "Sort_merge_passes",
    "Created_tmp_tables",
    "Created_tmp_disk_tables",
    "Handler_read_rnd_next",
    "Innodb_rows_read",
    "Innodb_rows_inserted",
    "Innodb_rows_updated",
    "Innodb_rows_deleted",
    "Innodb_row_lock_waits",
    "Innodb_row_lock_time",
    "Innodb_buffer_pool_read_requests",
    "Innodb_buffer_pool_reads",
    "Innodb_data_read",
    "Innodb_data_written",
    "Aborted_clients",
    "Aborted_connects",
    "Connections",
)
GAUGES = ("Uptime", "Threads_connected", "Threads_running", "Open_tables")

STATUS_SQL = "SHOW GLOBAL STATUS WHERE Variable_name IN ({})".format(
    ", ".join(f"'{name}'" for name in (*COUNTERS, *GAUGES))
)
VARIABLES_SQL = "SHOW GLOBAL VARIABLES WHERE Variable_name IN ({})".format(
    ", ".join(f"'{name}'" for name in VARIABLES)
)
DATABASE_SIZE_SQL = """
SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) AS size
FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()
"""


def name_values(rows: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """SHOW … rows (Variable_name, Value) as a dict with lower-cased names."""
    out: dict[str, str] = {}
    for row in rows:
        name = row.get("Variable_name")
        if name is not None:
            out[str(name).lower()] = "" if row.get("Value") is None else str(row["Value"])
    return out


def _num(value: str | None) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        return None


def replication(rows: Sequence[Mapping[str, Any]]) -> tuple[str, float | None, dict[str, Any]]:
    """Role, lag and details from SHOW REPLICA STATUS (rows empty: not a replica)."""
    if not rows:
        return "primary", None, {}
    row = rows[0]
    lag = row.get("Seconds_Behind_Source", row.get("Seconds_Behind_Master"))
    io = row.get("Replica_IO_Running", row.get("Slave_IO_Running"))
    sql = row.get("Replica_SQL_Running", row.get("Slave_SQL_Running"))
    source = row.get("Source_Host", row.get("Master_Host"))
    return (
        "replica",
        _num(None if lag is None else str(lag)),
        {
            "replica_io_running": io,
            "replica_sql_running": sql,
            "source_host": source,
            "last_io_error": row.get("Last_IO_Error"),
            "last_sql_error": row.get("Last_SQL_Error"),
        },
    )


def summary(
    *,
    flavor: Flavor,
    address: str,
    status: Mapping[str, str],
    variables: Mapping[str, str],
    database: str | None,
    database_size: int | None,
    role: str | None,
    lag: float | None,
    replica: Mapping[str, Any],
) -> ServerSummary:
    counters: dict[str, float] = {}
    for name in COUNTERS:
        value = _num(status.get(name.lower()))
        if value is not None:
            counters[name] = value
    requests = counters.get("Innodb_buffer_pool_read_requests")
    reads = counters.get("Innodb_buffer_pool_reads")
    hit_ratio = None
    if requests is not None and reads is not None:
        counters["blks_hit"] = max(requests - reads, 0.0)
        counters["blks_read"] = reads
        hit_ratio = (requests - reads) / requests if requests > 0 else None
    connected = _num(status.get("threads_connected"))
    max_conn = _num(variables.get("max_connections"))
    return ServerSummary(
        engine=flavor.name,
        address=address,
        version=flavor.version_text,
        version_num=flavor.version_num,
        uptime_s=_num(status.get("uptime")),
        role=role,
        replication_lag_s=lag,
        connections=int(connected) if connected is not None else None,
        max_connections=int(max_conn) if max_conn is not None else None,
        cache_hit_ratio=hit_ratio,
        database=database,
        database_size_bytes=database_size,
        counters=frozen(counters),
        throughput_counter="Questions",
        throughput_label="QPS",
        extra=frozen(
            flavor=flavor.name,
            version_comment=variables.get("version_comment"),
            threads_running=_num(status.get("threads_running")),
            open_tables=_num(status.get("open_tables")),
            read_only=variables.get("read_only"),
            performance_schema=flavor.performance_schema,
            hostname=variables.get("hostname"),
            **dict(replica),
        ),
    )
