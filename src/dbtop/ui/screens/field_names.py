"""What a session's fields are called on each engine, for the details view.

The model's field names are PostgreSQL's (``xact_start``, ``backend_start``); a Redis
client has no transaction start and calls its command ``cmd``. The details show each
engine's own words, and leave out the fields its engine never fills (no blank rows).
Engine-only facts are in ``extra`` under the engine's own names already.
"""

from __future__ import annotations

from collections.abc import Mapping

#: engine -> model field -> the engine's word ("" leaves the field out: never filled there)
SESSION_FIELDS: Mapping[str, Mapping[str, str]] = {
    "postgresql": {
        "id": "pid",
        "application": "application_name",
        "client": "client_addr:port",
        "kind": "backend_type",
        "wait": "wait_event",
    },
    "mysql": {
        "id": "processlist id",
        "user": "user",
        "database": "db",
        "client": "host",
        "kind": "command",
        "xact_start": "trx_started",
        "xact_age_s": "trx age (s)",
        "backend_start": "",
        "in_transaction": "in a transaction (INNODB_TRX)",
    },
    "mongodb": {
        "id": "opid",
        "application": "appName",
        "kind": "op",
        "duration_s": "secs_running",
        "xact_start": "transaction start",
        "xact_age_s": "transaction open (s)",
        "wait": "waiting for",
        "waiting_on_lock": "waitingForLock",
        "backend_start": "",
    },
    "redis": {
        "id": "client id",
        "database": "db",
        "application": "name (or lib-name)",
        "client": "addr",
        "kind": "type",
        "state": "state (from flags and cmd)",
        "in_transaction": "in MULTI",
        "query_start": "blocked since",
        "xact_start": "",
        "xact_age_s": "",
        "backend_start": "connected at (age)",
        "duration_s": "idle (s)",
        "wait": "blocked on",
        "waiting_on_lock": "blocked",
        "blocked_by": "blocked behind",
    },
}


def field_label(engine: str, name: str) -> str | None:
    """The engine's word for a model field, or None to leave the field out."""
    words = SESSION_FIELDS.get(engine, {})
    if name not in words:
        return name
    return words[name] or None
