"""``CLIENT LIST`` lines -> Sessions, with flags in words and what a blocked client waits for.

A Redis client has no "current statement" like a SQL session: ``cmd`` is the command it is
running or ran last, ``idle`` how long ago it last sent one. A client with the ``b`` flag is
blocked: in a blocking command (waiting for data, for replicas) or postponed by CLIENT PAUSE.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from dbtop.engines.redis.commands import PAUSE, BlockingKind, blocking_kind, display_name
from dbtop.engines.redis.flags import client_kind, decode_flags
from dbtop.engines.redis.info import integer, text
from dbtop.model import Session, frozen

#: Fields kept as text; every other field of CLIENT LIST is a number.
_TEXT_FIELDS = frozenset(
    {"addr", "laddr", "name", "flags", "events", "cmd", "user", "lib-name", "lib-ver", "id"}
)


#: Fields already in the Session itself (id) or renamed with their unit (age_s, idle_s).
_SESSION_FIELDS = frozenset({"id", "age", "idle"})


def parse_client_list(reply: object) -> list[dict[str, str]]:
    """One ``field -> value`` map per line (a value may contain ``=``, never a space)."""
    rows: list[dict[str, str]] = []
    for line in text(reply).splitlines():
        if not line.strip():
            continue
        row: dict[str, str] = {}
        for token in line.split(" "):
            name, sep, value = token.partition("=")
            if sep:
                row[name] = value
        if "id" in row:
            rows.append(row)
    return rows


def session_id(prefix: str, client_id: str | int) -> str:
    """A client id, prefixed with its node in a cluster (client ids repeat across nodes)."""
    return f"{prefix}{client_id}"


def split_session_id(session_id: str) -> tuple[str | None, str]:
    """``127.0.0.1:7001/12`` -> (node, "12"); ``12`` -> (None, "12")."""
    node, sep, local = session_id.rpartition("/")
    return (node, local) if sep else (None, session_id)


def client_extra(row: dict[str, str]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for name, value in row.items():
        if name in _SESSION_FIELDS:
            continue
        key = name.replace("-", "_")
        if name in _TEXT_FIELDS:
            extra[key] = value
        else:
            number = integer(value)
            extra[key] = value if number is None else number
    return extra


def client_session(
    row: dict[str, str],
    *,
    now: datetime,
    node: str | None,
    prefix: str,
    self_ids: Iterable[int],
    module_commands: frozenset[str] = frozenset(),
) -> tuple[Session, BlockingKind | None]:
    """The Session for one client, and what it is blocked on (None when not blocked)."""
    flags = row.get("flags", "N")
    cmd = row.get("cmd", "")
    idle = integer(row.get("idle"), 0) or 0
    age = integer(row.get("age"), 0) or 0
    subscriptions = sum(integer(row.get(k), 0) or 0 for k in ("sub", "psub", "ssub"))
    kind = client_kind(flags, subscriptions)
    blocked = blocking_kind(cmd, blocked="b" in flags, module_commands=module_commands)
    in_multi = "x" in flags
    query = display_name(cmd) if cmd and cmd != "NULL" else None

    if blocked is PAUSE:
        state, wait = "paused", f"{query or 'command'} postponed by CLIENT PAUSE"
    elif blocked is not None:
        state, wait = "blocked", f"{query}: waits for {blocked.waits_for}"
    elif in_multi:
        state, wait = "in MULTI", None
    elif kind in ("master", "replica", "monitor"):
        state, wait = kind, None
    elif kind == "pubsub":
        state, wait = "subscribed", None
    else:
        state, wait = ("active" if idle == 0 else "idle"), None

    own_id = integer(row.get("id"))
    extra = client_extra(row)
    extra["flag_words"] = list(decode_flags(flags))
    extra["age_s"] = age
    extra["idle_s"] = idle
    if blocked is not None:
        extra["blocked_on"] = blocked.blocker
    db = integer(row.get("db"))
    session = Session(
        id=session_id(prefix, row["id"]),
        user=row.get("user") or None,
        database=None if db is None else f"db{db}",
        application=row.get("name") or row.get("lib-name") or None,
        client=row.get("addr") or None,
        kind=kind,
        state=state,
        is_idle=state in ("idle", "subscribed"),
        in_transaction=in_multi,
        query=query,
        query_start=now - timedelta(seconds=idle) if blocked is not None else None,
        backend_start=now - timedelta(seconds=age),
        duration_s=float(idle),
        wait=wait,
        waiting_on_lock=blocked is not None,
        blocked_by=(f"{prefix}{blocked.blocker}",) if blocked is not None else (),
        is_self=own_id is not None and own_id in set(self_ids),
        node=node,
        extra=frozen(extra),
    )
    return session, blocked
