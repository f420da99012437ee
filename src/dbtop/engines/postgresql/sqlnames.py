"""How dbtop writes PostgreSQL names, and the mark its own statements carry."""

from __future__ import annotations

from pglast.keywords import COL_NAME_KEYWORDS, RESERVED_KEYWORDS, TYPE_FUNC_NAME_KEYWORDS

from dbtop.analysis.advisor import TableRef

#: the comment that marks the advisor's statements: pg_stat_statements keeps it, so a later
#: run leaves dbtop's own statements out of the workload it advises on. Queries carry it after
#: their first keyword (PostgreSQL 18 drops comments before a statement); utility statements
#: (SAVEPOINT, DO …) start with it.
MARK = "/* dbtop */ "


def is_own(sql: str) -> bool:
    return MARK.strip() in sql


_KEYWORDS = RESERVED_KEYWORDS | TYPE_FUNC_NAME_KEYWORDS | COL_NAME_KEYWORDS
_SAFE_IDENT = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_$")


def quote_ident(name: str) -> str:
    """An identifier as PostgreSQL needs it written (quoted only when it must be)."""
    if (
        name
        and (name[0].islower() or name[0] == "_")
        and set(name) <= _SAFE_IDENT
        and name not in _KEYWORDS
    ):
        return name
    return '"' + name.replace('"', '""') + '"'


def quote_table(table: TableRef) -> str:
    name = quote_ident(table.name)
    return f"{quote_ident(table.schema)}.{name}" if table.schema else name
