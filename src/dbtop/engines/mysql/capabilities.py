"""What this server and this account allow, and what to do about what is missing.

A missing privilege disables only what needs it; the notice names the GRANT to run. What a
server setting would add (performance_schema, the slow log table, userstat, the
metadata-lock instrument or plugin) is said once, as a capability notice.
"""

from __future__ import annotations

from dataclasses import dataclass

from dbtop.engines.mysql.flavor import Flavor
from dbtop.model import Capabilities, Feature, Notice, PaneLabels, Severity, frozen

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


def denied(feature: str, what: str, grant: str) -> Notice:
    return Notice(
        feature=feature,
        message=f"{what}: this account lacks the privilege",
        hint=grant,
        severity=Severity.WARNING,
    )


def setting_notices(flavor: Flavor, *, read_only: bool) -> list[Notice]:
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
        notices.append(Notice("statements", message, f"{restart}: it adds {adds}", Severity.INFO))
        if not flavor.slow_log_table:
            notices.append(
                Notice(
                    "statements",
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
                    "indexes",
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
                "locks",
                "who holds a metadata lock is not visible: sessions waiting for one show "
                "no blocker",
                hint,
                Severity.INFO,
            )
        )
    if read_only:
        notices.append(
            Notice(Feature.CANCEL, "read-only mode: kill is refused", None, Severity.INFO)
        )
    return notices


def capabilities(
    flavor: Flavor,
    *,
    read_only: bool,
    process: bool,
    digests: bool,
    index_usage: str | None,
    sources: dict[str, str | None],
    notices: list[Notice],
) -> Capabilities:
    features = {Feature.SERVER, Feature.SESSIONS, Feature.EXPLAIN, Feature.SUGGEST}
    if not read_only:
        features |= {Feature.CANCEL, Feature.TERMINATE}
    if flavor.has_explain_analyze:
        features.add(Feature.EXPLAIN_ANALYZE)
    if flavor.mariadb or flavor.version >= (5, 7, 2):
        features.add(Feature.EXPLAIN_SESSION)
    if digests:
        features.add(Feature.STATEMENTS)
    if index_usage is not None:
        features.add(Feature.INDEXES)
    if process:
        features.add(Feature.LOCKS)
    return Capabilities(
        features=frozenset(features),
        read_only=read_only,
        labels=PaneLabels(),
        notices=tuple(notices),
        extra=frozen(
            flavor=flavor.name,
            version=flavor.version_text,
            performance_schema=flavor.performance_schema,
            slow_log_table=flavor.slow_log_table,
            userstat=flavor.userstat,
            kill_procedures=flavor.kill_procedures,
            **sources,
        ),
    )
