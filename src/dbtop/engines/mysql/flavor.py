"""Which server this is (MariaDB or MySQL, which version) and what it has switched on.

MySQL 8 and MariaDB diverged: lock waits live in performance_schema.data_lock_waits on
MySQL 8 and in information_schema.INNODB_LOCK_WAITS on MariaDB (and MySQL 5.7); the time
limit is ``max_statement_time`` (seconds, every statement) on MariaDB and
``max_execution_time`` (milliseconds, SELECT only) on MySQL; a running session is explained
with SHOW EXPLAIN on MariaDB and EXPLAIN FOR CONNECTION on MySQL. Everything that differs is
decided from this one record.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")

#: server variables read at connect and with every snapshot (SHOW GLOBAL VARIABLES)
VARIABLES = (
    "version",
    "version_comment",
    "performance_schema",
    "log_output",
    "slow_query_log",
    "long_query_time",
    "userstat",
    "innodb_page_size",
    "max_connections",
    "read_only",
    "hostname",
    "port",
)


@dataclass(frozen=True, slots=True)
class Flavor:
    mariadb: bool
    version: tuple[int, int, int]
    version_text: str
    performance_schema: bool = False
    log_output: frozenset[str] = frozenset()
    slow_query_log: bool = False
    userstat: bool = False
    page_size: int = 16384
    #: MariaDB's metadata_lock_info plugin (information_schema.METADATA_LOCK_INFO) is active
    mdl_plugin: bool = False
    #: performance_schema.metadata_locks is filled (the MDL instrument is enabled)
    mdl_instrumented: bool = False
    #: managed-service kill procedures: "rds" (mysql.rds_kill), "azure" (mysql.az_kill)
    kill_procedures: str | None = None

    @property
    def name(self) -> str:
        return "mariadb" if self.mariadb else "mysql"

    @property
    def version_num(self) -> int:
        major, minor, patch = self.version
        return major * 10000 + minor * 100 + patch

    @property
    def has_data_locks(self) -> bool:
        """MySQL 8 moved InnoDB lock waits to performance_schema.data_lock_waits."""
        return not self.mariadb and self.version >= (8, 0, 1)

    @property
    def has_innodb_lock_waits(self) -> bool:
        return self.mariadb or self.version < (8, 0, 1)

    @property
    def has_execution_time_hint(self) -> bool:
        return not self.mariadb and self.version >= (5, 7, 8)

    @property
    def has_statement_time(self) -> bool:
        return self.mariadb and self.version >= (10, 1, 1)

    @property
    def has_show_explain_json(self) -> bool:
        """SHOW EXPLAIN FORMAT=JSON FOR came with MariaDB 10.9."""
        return self.mariadb and self.version >= (10, 9, 0)

    @property
    def has_explain_analyze(self) -> bool:
        """MariaDB's ANALYZE FORMAT=JSON (10.1) or MySQL's EXPLAIN ANALYZE (8.0.18)."""
        if self.mariadb:
            return self.version >= (10, 1, 0)
        return self.version >= (8, 0, 18)

    @property
    def has_descending_indexes(self) -> bool:
        return self.version >= ((10, 8, 0) if self.mariadb else (8, 0, 1))

    @property
    def slow_log_table(self) -> bool:
        return self.slow_query_log and "TABLE" in self.log_output

    @property
    def pfs_processlist(self) -> bool:
        """performance_schema.threads carries PROCESSLIST_INFO (MariaDB 10.5, MySQL 5.6)."""
        return self.performance_schema and (not self.mariadb or self.version >= (10, 5, 0))


def parse_version(text: str) -> tuple[int, int, int]:
    match = _VERSION.search(text or "")
    if not match:
        return (0, 0, 0)
    major, minor, patch = (int(g) for g in match.groups())
    return (major, minor, patch)


def _on(value: str | None) -> bool:
    return str(value or "").strip().upper() in ("ON", "1", "YES", "TRUE")


def from_variables(
    variables: Mapping[str, str],
    *,
    mdl_plugin: bool = False,
    mdl_instrumented: bool = False,
    kill_procedures: str | None = None,
) -> Flavor:
    """The flavor from SHOW GLOBAL VARIABLES (names lower-cased)."""
    version_text = variables.get("version", "")
    comment = variables.get("version_comment", "")
    mariadb = "mariadb" in version_text.lower() or "mariadb" in comment.lower()
    try:
        page_size = int(variables.get("innodb_page_size") or 16384)
    except ValueError:
        page_size = 16384
    return Flavor(
        mariadb=mariadb,
        version=parse_version(version_text),
        version_text=version_text,
        performance_schema=_on(variables.get("performance_schema")),
        log_output=frozenset(
            part.strip().upper() for part in variables.get("log_output", "").split(",") if part
        ),
        slow_query_log=_on(variables.get("slow_query_log")),
        userstat=_on(variables.get("userstat")),
        page_size=page_size,
        mdl_plugin=mdl_plugin,
        mdl_instrumented=mdl_instrumented,
        kill_procedures=kill_procedures,
    )
