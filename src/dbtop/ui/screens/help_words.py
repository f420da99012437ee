"""What a key does on this engine, for the help: "Cancel" is pg_cancel_backend on
PostgreSQL, KILL QUERY on MySQL, killOp on MongoDB and CLIENT UNBLOCK on Redis, and a DBA
must know which before pressing it. Keyed by binding id; engines by ``Snapshot.engine``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from textual.binding import Binding

#: Textual's own bindings that mean nothing here (the tables do not scroll sideways)
NOT_IN_HELP = frozenset(
    {"scroll_left", "scroll_right", "page_left", "page_right", "screen.copy_text"}
)

_SORT = "the focused table by its next column on screen (S reverses)"

ACTION_WORDS: Mapping[str, Mapping[str, str]] = {
    "postgresql": {
        "session.cancel": "pg_cancel_backend: stops the running statement, the session "
        "stays (does nothing to one idle in transaction: k then offers terminate)",
        "session.terminate": "pg_terminate_backend: ends the session, its transaction "
        "rolls back and its locks go",
        "sessions.idle": "show or hide idle sessions (state idle; idle in transaction "
        "and blockers always show)",
        "table.sort": _SORT,
        "query.explain": "EXPLAIN (FORMAT JSON); $n parameters: the generic plan",
        "query.explain-analyze": "EXPLAIN ANALYZE of a proven read, in a read-only "
        "transaction rolled back; asks values for $n first",
    },
    "mysql": {
        "session.cancel": "KILL QUERY: stops the running statement, the connection stays "
        "(an open transaction keeps its locks)",
        "session.terminate": "KILL CONNECTION: closes the connection, its transaction rolls back",
        "sessions.idle": "show or hide sleeping connections (Command Sleep)",
        "table.sort": _SORT,
        "query.explain": "EXPLAIN FORMAT=JSON (of a running thread: EXPLAIN FOR "
        "CONNECTION / SHOW EXPLAIN)",
        "query.explain-analyze": "ANALYZE FORMAT=JSON (MariaDB) / EXPLAIN ANALYZE "
        "(MySQL) of a proven read",
    },
    "mongodb": {
        "session.cancel": "killOp: the operation stops at its next interrupt check, the "
        "connection stays",
        "session.terminate": "killSessions: every operation and cursor of its logical "
        "session ends, an open transaction aborts",
        "sessions.idle": "show or hide idle connections ($currentOp idleConnections)",
        "table.sort": _SORT,
        "query.explain": "explain, queryPlanner verbosity (nothing runs)",
        "query.explain-analyze": "explain, executionStats verbosity (runs the query; "
        "refused for $where, $function, $out, $merge …)",
    },
    "redis": {
        "session.cancel": "CLIENT UNBLOCK: wakes a client blocked in BLPOP / XREAD / "
        "WAIT (SCRIPT / FUNCTION KILL for the busy script)",
        "session.terminate": "CLIENT KILL ID: closes the client's connection",
        "sessions.idle": "show or hide idle clients (no command running)",
        "table.sort": _SORT,
        "query.explain": "key anatomy: TYPE, OBJECT ENCODING, MEMORY USAGE, TTL",
    },
}


def engine_description(engine: str, binding_id: str | None, description: str) -> str:
    """The binding's description, with what it does on ``engine`` when that is known."""
    word = ACTION_WORDS.get(engine, {}).get(binding_id or "")
    return f"{description} — {word}" if word else description


def helped(binding: Binding, engine: str, reason: str | None) -> Binding:
    """The binding as ``?`` lists it: what it does on ``engine``, and when it is off, why
    (the key answers the same when pressed)."""
    description = engine_description(engine, binding.id, binding.description)
    if reason is not None:
        description = f"{description} (off: {reason})"
    return replace(binding, description=description)
