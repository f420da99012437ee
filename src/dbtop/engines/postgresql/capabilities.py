"""What this server and role allow: the Feature set, and a notice for each thing missing.

Read once at connect: the role and its privileges, the server's version, whether hypopg is
there; pg_stat_statements is found by ``statements.detect``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from dbtop.engines.postgresql.statements import StatementsSource
from dbtop.model import Feature, Notice, Severity

ROLE_SQL = """
    SELECT /* dbtop */ current_user AS role, r.rolsuper,
           pg_has_role(current_user, 'pg_read_all_stats', 'member') AS read_all_stats,
           pg_has_role(current_user, 'pg_signal_backend', 'member') AS signal_backend,
           current_database() AS database,
           host(inet_server_addr()) AS server_addr, inet_server_port() AS server_port,
           current_setting('server_version_num')::int AS version_num,
           (SELECT setting::int FROM pg_settings WHERE name = 'track_activity_query_size')
               AS query_size,
           (SELECT extversion FROM pg_extension WHERE extname = 'hypopg') AS hypopg,
           (SELECT count(*) > 0 FROM pg_available_extensions WHERE name = 'hypopg')
               AS hypopg_available
    FROM pg_roles r WHERE r.rolname = current_user
"""

#: what every PostgreSQL server offers to any role that can connect
_ALWAYS = frozenset(
    {
        Feature.SERVER,
        Feature.SESSIONS,
        Feature.HEALTH,
        Feature.INDEXES,
        Feature.LOCKS,
        Feature.CANCEL,
        Feature.TERMINATE,
        Feature.EXPLAIN,
        Feature.EXPLAIN_ANALYZE,
        Feature.EXPLAIN_SESSION,
        Feature.SUGGEST,
    }
)


async def read_role(conn: asyncpg.Connection) -> dict[str, Any]:
    """The role, its privileges and the server facts of ``ROLE_SQL`` ({} if none)."""
    row = await conn.fetchrow(ROLE_SQL)
    return dict(row) if row else {}


def sees_all(role: Mapping[str, Any]) -> bool:
    """Whether the role sees every session's query and the replication figures."""
    return bool(role.get("rolsuper") or role.get("read_all_stats"))


def features(role: Mapping[str, Any], source: StatementsSource | None) -> set[Feature]:
    found = set(_ALWAYS)
    if source is not None:
        found.add(Feature.STATEMENTS)
    if role.get("hypopg"):
        found.add(Feature.HYPOTHETICAL_INDEXES)
    return found


def notices(role: Mapping[str, Any], statements_notice: Notice | None) -> list[Notice]:
    """Why a pane is empty or a figure missing, with what to do about it."""
    found: list[Notice] = []
    version_num = int(role.get("version_num") or 0)
    if version_num and version_num < 120000:
        found.append(
            Notice(
                Feature.SERVER,
                f"PostgreSQL {version_num} is older than 12: some figures may be missing",
            )
        )
    if not sees_all(role):
        found.append(
            Notice(
                Feature.SESSIONS,
                f"role {role.get('role')} sees other users' queries as <insufficient privilege>",
                f"GRANT pg_monitor TO {role.get('role')}",
            )
        )
    if statements_notice is not None:
        found.append(statements_notice)
    if not role.get("hypopg"):
        available = role.get("hypopg_available")
        found.append(
            Notice(
                Feature.HYPOTHETICAL_INDEXES,
                "hypopg is not "
                + ("created in this database" if available else "installed")
                + ": index suggestions are not verified with hypothetical indexes",
                "CREATE EXTENSION hypopg"
                if available
                else "install hypopg (Debian: postgresql-NN-hypopg), then CREATE EXTENSION hypopg",
                Severity.INFO,
            )
        )
    return found


def extra(role: Mapping[str, Any], source: StatementsSource | None) -> dict[str, Any]:
    """The facts shown to the user (role, version, extensions); never a capability."""
    return {
        "role": role.get("role"),
        "superuser": bool(role.get("rolsuper")),
        "pg_read_all_stats": bool(role.get("read_all_stats")),
        "pg_signal_backend": bool(role.get("signal_backend")),
        "server_version_num": int(role.get("version_num") or 0),
        "pg_stat_statements": source.version if source else None,
        "hypopg": role.get("hypopg"),
        # pg_stat_user_indexes covers the connected database only: the pane says which
        "indexes_of": role.get("database"),
    }
