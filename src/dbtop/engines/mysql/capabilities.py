"""What this server and this account allow, and what to do about what is missing.

``probe`` finds it once per connection (privileges, plugins, instruments, the kill
procedures of managed services); ``features`` and ``facts`` are what the engine declares.

A missing privilege disables only what needs it; the notice names the GRANT to run. What a
server setting would add (performance_schema, the slow log table, userstat, the
metadata-lock instrument or plugin) is said once, as a capability notice.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pymysql

from dbtop.engines.mysql import kill as kill_mod
from dbtop.engines.mysql.connection import LOST_CODES, PRIVILEGE_CODES, Link, error_code
from dbtop.engines.mysql.flavor import Flavor
from dbtop.model import Feature, Notice, Severity

PROBE_PROCESS = "SELECT trx_id FROM information_schema.INNODB_TRX LIMIT 1"
PROBE_DIGESTS = "SELECT DIGEST FROM performance_schema.events_statements_summary_by_digest LIMIT 1"
PROBE_MDL_PLUGIN = """
SELECT PLUGIN_STATUS FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'METADATA_LOCK_INFO'
"""
PROBE_MDL_INSTRUMENT = """
SELECT ENABLED FROM performance_schema.setup_instruments
WHERE NAME = 'wait/lock/metadata/sql/mdl'
"""


def grantee(current_user: str | None) -> str:
    """``app@10.%`` -> ``'app'@'10.%'`` for GRANT statements."""
    if not current_user:
        return "CURRENT_USER"
    user, _, host = current_user.rpartition("@")
    if not user:
        user, host = current_user, "%"
    return f"'{user}'@'{host}'"


def replication_grant(flavor: Flavor) -> str:
    if flavor.mariadb and flavor.version >= (10, 5, 9):
        return "SLAVE MONITOR"
    return "REPLICATION CLIENT"


@dataclass(frozen=True, slots=True)
class Grants:
    """Grant statements per feature, for one account."""

    who: str
    flavor: Flavor

    def process(self) -> str:
        return f"GRANT PROCESS ON *.* TO {self.who}"

    def performance_schema(self) -> str:
        return f"GRANT SELECT ON performance_schema.* TO {self.who}"

    def slow_log(self) -> str:
        return f"GRANT SELECT ON mysql.slow_log TO {self.who}"

    def index_stats(self) -> str:
        return f"GRANT SELECT ON mysql.innodb_index_stats TO {self.who}"

    def replication(self) -> str:
        return f"GRANT {replication_grant(self.flavor)} ON *.* TO {self.who}"


@dataclass(frozen=True, slots=True)
class Access:
    """What connect() found this account may read, once per connection."""

    grants: Grants
    #: information_schema.INNODB_TRX is readable (the PROCESS privilege)
    process: bool = True
    #: performance_schema is on and readable: digests, index usage, connection attributes
    digests: bool = False
    #: sessions come from performance_schema.threads instead of the PROCESSLIST
    threads: bool = False


def denied(feature: Feature, what: str, grant: str) -> Notice:
    return Notice(
        feature=feature,
        message=f"{what}: this account lacks the privilege",
        hint=grant,
        severity=Severity.WARNING,
    )


async def probe(link: Link, flavor: Flavor) -> tuple[Flavor, Access, dict[str, Notice]]:
    """Privileges and optional features, once per connection: the flavour with what was
    found, what this account may read, and the notices of what a privilege denies."""
    user_rows = await link.fetch("SELECT CURRENT_USER() AS u")
    grants = Grants(grantee(user_rows[0]["u"] if user_rows else None), flavor)
    notices: dict[str, Notice] = {}
    process = await _probe_ok(link, PROBE_PROCESS)
    if not process:
        notices["process"] = denied(
            Feature.SESSIONS,
            # without PROCESS the server lists this account's threads only: the others are
            # missing, not idle, and the notice must say so
            "only this account's own sessions are visible: other accounts' sessions are not "
            "shown at all (not idle, not counted), nor transactions or lock waits",
            grants.process(),
        )
    mdl_plugin = False
    plugin_rows = await _try_rows(link, PROBE_MDL_PLUGIN)
    if plugin_rows:
        mdl_plugin = str(plugin_rows[0].get("PLUGIN_STATUS")) == "ACTIVE"
    mdl_instrumented = False
    digests = False
    if flavor.performance_schema:
        digests = await _probe_ok(link, PROBE_DIGESTS)
        if not digests:
            notices["performance_schema"] = denied(
                Feature.STATEMENTS,
                "performance_schema is on but this account cannot read it: no digests, "
                "index usage or metadata-lock holders",
                grants.performance_schema(),
            )
        rows = await _try_rows(link, PROBE_MDL_INSTRUMENT)
        mdl_instrumented = bool(rows) and str(rows[0].get("ENABLED")).upper() == "YES"
    routines = await _try_rows(link, kill_mod.PROCEDURES_SQL)
    provider = kill_mod.provider({str(r["ROUTINE_NAME"]) for r in routines})
    access = Access(
        grants, process=process, digests=digests, threads=flavor.pfs_processlist and digests
    )
    found = dataclasses.replace(
        flavor,
        mdl_plugin=mdl_plugin,
        mdl_instrumented=mdl_instrumented and digests,
        kill_procedures=provider,
    )
    return found, access, notices


async def _probe_ok(link: Link, sql: str) -> bool:
    try:
        await link.fetch(sql)
    except pymysql.err.MySQLError as exc:
        if error_code(exc) in PRIVILEGE_CODES:
            return False
        raise
    return True


async def _try_rows(link: Link, sql: str) -> list[dict[str, Any]]:
    """Rows, or none when the table is absent or unreadable (an optional feature)."""
    try:
        return await link.fetch(sql)
    except pymysql.err.MySQLError as exc:
        if error_code(exc) in LOST_CODES:
            raise
        return []


def setting_notices(flavor: Flavor) -> list[Notice]:
    """What server settings would add, for the panes that would show it."""
    notices: list[Notice] = []
    restart = "add performance_schema=ON under [mysqld] and restart the server"
    if not flavor.performance_schema:
        adds = "statement digests with calls, latency, rows examined and no-index counts"
        if flavor.mariadb:
            adds += ", index usage, metadata-lock holders"
        else:
            adds += ", index usage, metadata-lock holders, row-lock waits (data_lock_waits)"
        message = "performance_schema is off: no statement digests"
        if flavor.slow_log_table:
            message += "; the slow log table is shown instead"
        notices.append(
            Notice(Feature.STATEMENTS, message, f"{restart}: it adds {adds}", Severity.INFO)
        )
        if not flavor.slow_log_table:
            notices.append(
                Notice(
                    Feature.STATEMENTS,
                    "the slow log is not written to a table, so dbtop cannot read it",
                    "SET GLOBAL log_output = 'FILE,TABLE'; SET GLOBAL slow_query_log = ON; "
                    "SET GLOBAL long_query_time = 1 (seconds); or turn performance_schema on",
                    Severity.WARNING,
                )
            )
        if not (flavor.mariadb and flavor.userstat):
            hint = (
                "SET GLOBAL userstat = ON (MariaDB user statistics), or turn performance_schema on"
                if flavor.mariadb
                else restart
            )
            notices.append(
                Notice(
                    Feature.INDEXES,
                    "index usage is unknown, so unused indexes cannot be found "
                    "(redundant ones still are)",
                    hint,
                    Severity.INFO,
                )
            )
    if not (flavor.mdl_instrumented or flavor.mdl_plugin):
        if flavor.performance_schema:
            hint = (
                "UPDATE performance_schema.setup_instruments SET ENABLED = 'YES', TIMED = 'YES' "
                "WHERE NAME = 'wait/lock/metadata/sql/mdl' (or "
                "performance-schema-instrument='wait/lock/metadata/sql/mdl=ON' in [mysqld])"
            )
        elif flavor.mariadb:
            hint = "INSTALL SONAME 'metadata_lock_info'; or turn performance_schema on"
        else:
            hint = restart
        notices.append(
            Notice(
                Feature.LOCKS,
                "who holds a metadata lock is not visible: sessions waiting for one show "
                "no blocker",
                hint,
                Severity.INFO,
            )
        )
    return notices


def features(flavor: Flavor, *, process: bool, digests: bool, index_usage: bool) -> set[Feature]:
    """What this server and account allow (``EngineBase.declare`` drops the actions under
    --read-only)."""
    found = {
        Feature.SERVER,
        Feature.SESSIONS,
        Feature.HEALTH,
        Feature.EXPLAIN,
        Feature.SUGGEST,
        Feature.CANCEL,
        Feature.TERMINATE,
    }
    if flavor.has_explain_analyze:
        found.add(Feature.EXPLAIN_ANALYZE)
    if flavor.mariadb or flavor.version >= (5, 7, 2):
        found.add(Feature.EXPLAIN_SESSION)
    if digests:
        found.add(Feature.STATEMENTS)
    if index_usage:
        found.add(Feature.INDEXES)
    if process:
        found.add(Feature.LOCKS)
    return found


def index_usage_source(flavor: Flavor, access: Access) -> str | None:
    """Where index usage comes from, or None when this server does not count it."""
    if flavor.performance_schema and access.digests:
        return "performance_schema"
    if flavor.mariadb and flavor.userstat:
        return "userstat"
    return None


def session_source(access: Access) -> str:
    return "performance_schema.threads" if access.threads else "information_schema.PROCESSLIST"


def facts(flavor: Flavor, access: Access) -> dict[str, Any]:
    """The facts shown to the user: which flavour, and where each pane reads from."""
    return {
        "flavor": flavor.name,
        "version": flavor.version_text,
        "performance_schema": flavor.performance_schema,
        "slow_log_table": flavor.slow_log_table,
        "userstat": flavor.userstat,
        "kill_procedures": flavor.kill_procedures,
        "session_source": session_source(access),
        "row_lock_source": "performance_schema.data_lock_waits"
        if flavor.has_data_locks
        else "information_schema.INNODB_LOCK_WAITS",
        "metadata_lock_source": (
            "performance_schema.metadata_locks"
            if flavor.mdl_instrumented
            else "information_schema.METADATA_LOCK_INFO"
            if flavor.mdl_plugin
            else None
        ),
    }
