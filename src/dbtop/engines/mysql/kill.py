"""KILL QUERY / KILL CONNECTION, or the procedures managed services provide instead.

On Amazon RDS and Aurora the master user may not KILL other users' sessions but may call
mysql.rds_kill / mysql.rds_kill_query; Azure Database for MySQL has mysql.az_kill /
mysql.az_kill_query. dbtop uses them when they exist.
"""

from __future__ import annotations

from dbtop.errors import UsageError
from dbtop.model import KillMode

#: routine names looked for in the mysql schema, by provider
PROCEDURES = {
    "rds": ("rds_kill_query", "rds_kill"),
    "azure": ("az_kill_query", "az_kill"),
}

PROCEDURES_SQL = """
SELECT ROUTINE_NAME FROM information_schema.ROUTINES
WHERE ROUTINE_SCHEMA = 'mysql' AND ROUTINE_TYPE = 'PROCEDURE'
  AND ROUTINE_NAME IN ('rds_kill', 'rds_kill_query', 'az_kill', 'az_kill_query')
"""


def thread_id(session_id: str) -> int:
    """The numeric processlist id, or a UsageError naming what is wrong."""
    text = session_id.strip()
    if not text.isdigit():
        raise UsageError(f"not a MySQL session id: {session_id!r} (the processlist Id, a number)")
    value = int(text)
    if value <= 0 or value >= 2**64:
        raise UsageError(f"not a MySQL session id: {session_id!r}")
    return value


def provider(routines: set[str]) -> str | None:
    for name, (cancel, terminate) in PROCEDURES.items():
        if cancel in routines and terminate in routines:
            return name
    return None


def kill_sql(tid: int, mode: KillMode, procedures: str | None = None) -> str:
    """The statement that cancels or terminates thread ``tid``."""
    if procedures is not None:
        cancel, terminate = PROCEDURES[procedures]
        routine = cancel if mode is KillMode.CANCEL else terminate
        return f"CALL mysql.{routine}({int(tid)})"
    verb = "KILL QUERY" if mode is KillMode.CANCEL else "KILL CONNECTION"
    return f"{verb} {int(tid)}"


def kill_grant_hint(mariadb: bool, version: tuple[int, int, int]) -> str:
    if mariadb:
        if version >= (10, 5, 2):
            return "GRANT CONNECTION ADMIN ON *.*"
        return "GRANT SUPER ON *.*"
    if version >= (8, 0, 0):
        return "GRANT CONNECTION_ADMIN ON *.*"
    return "GRANT SUPER ON *.*"
