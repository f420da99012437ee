"""Progress of long maintenance from the pg_stat_progress_* views (shared memory, cheap):
VACUUM, ANALYZE (13+), CREATE INDEX and CLUSTER / VACUUM FULL (12+), COPY (14+) and base
backups (13+), put on the session that runs each (``Session.progress``)."""

from __future__ import annotations

import asyncpg

from dbtop.analysis.progress import build
from dbtop.progress import Progress

_VACUUM = """SELECT pid, 'VACUUM'::text AS command, phase::text,
  heap_blks_scanned::float8 AS done, heap_blks_total::float8 AS total, 'blocks' AS unit
FROM pg_stat_progress_vacuum"""
# CREATE INDEX counts blocks while it scans the table, then tuples while it sorts and loads.
_CREATE_INDEX = """SELECT pid, command::text, phase::text,
  (CASE WHEN blocks_total > 0 THEN blocks_done ELSE tuples_done END)::float8,
  (CASE WHEN blocks_total > 0 THEN blocks_total ELSE tuples_total END)::float8,
  CASE WHEN blocks_total > 0 THEN 'blocks' ELSE 'tuples' END
FROM pg_stat_progress_create_index"""
_CLUSTER = """SELECT pid, command::text, phase::text,
  (CASE WHEN heap_blks_total > 0 THEN heap_blks_scanned ELSE heap_tuples_written END)::float8,
  (CASE WHEN heap_blks_total > 0 THEN heap_blks_total END)::float8,
  CASE WHEN heap_blks_total > 0 THEN 'blocks' ELSE 'tuples' END
FROM pg_stat_progress_cluster"""
_ANALYZE = """SELECT pid, 'ANALYZE', phase::text, sample_blks_scanned::float8,
  sample_blks_total::float8, 'blocks'
FROM pg_stat_progress_analyze"""
_BASEBACKUP = """SELECT pid, 'BASE BACKUP', phase::text, backup_streamed::float8,
  backup_total::float8, 'bytes'
FROM pg_stat_progress_basebackup"""
_COPY = """SELECT pid, command::text, type::text, bytes_processed::float8,
  nullif(bytes_total, 0)::float8, 'bytes'
FROM pg_stat_progress_copy"""


def progress_sql(version_num: int) -> str:
    parts = [_VACUUM, _CREATE_INDEX, _CLUSTER]
    if version_num >= 130000:
        parts += [_ANALYZE, _BASEBACKUP]
    if version_num >= 140000:
        parts.append(_COPY)
    return "SELECT /* dbtop */ * FROM (" + "\nUNION ALL\n".join(parts) + ") p"


async def fetch_progress(conn: asyncpg.Connection, version_num: int) -> dict[str, Progress]:
    """Each running command's progress by session id (the backend's pid)."""
    found: dict[str, Progress] = {}
    for row in await conn.fetch(progress_sql(version_num)):
        found[str(row["pid"])] = build(
            str(row["command"]), row["phase"], row["done"], row["total"], row["unit"]
        )
    return found
