"""``CLIENT LIST`` lines -> Sessions, with flags in words and what a blocked client waits for.

A Redis client has no "current statement" like a SQL session: ``cmd`` is the command it is
running or ran last, ``idle`` how long ago it last sent one. A client with the ``b`` flag is
blocked: in a blocking command (waiting for data, for replicas) or postponed by CLIENT PAUSE.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from datetime import datetime, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from dbtop.engines.redis.commands import PAUSE, BlockingKind, blocking_kind, display_name
from dbtop.engines.redis.flags import client_kind, decode_flags
from dbtop.engines.redis.info import text
from dbtop.model import Session

#: Fields kept as text; every other field of CLIENT LIST is a number.
_TEXT_FIELDS = frozenset(
    {"addr", "laddr", "name", "flags", "events", "cmd", "user", "lib-name", "lib-ver", "id"}
)

Row = dict[str, Any]


def parse_client_list(reply: object) -> list[Row]:
    """One ``field -> value`` map per line, numbers as ints (a value may contain ``=``, never
    a space). The map becomes the Session's ``extra`` as it is: fields keep Redis's names.

    This runs on every refresh over thousands of lines: it stays one plain pass.
    """
    rows: list[Row] = []
    for line in text(reply).split("\n"):
        if not line or line == "\r":
            continue
        row: Row = {}
        for token in line.rstrip("\r").split(" "):
            name, sep, value = token.partition("=")
            if not sep:
                continue
            if name in _TEXT_FIELDS:
                row[name] = value
                continue
            try:
                row[name] = int(value)
            except ValueError:
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


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


@lru_cache(maxsize=512)
def _flag_words(flags: str) -> tuple[str, ...]:
    return decode_flags(flags)


@lru_cache(maxsize=2048)
def _query(cmd: str) -> str | None:
    return display_name(cmd) if cmd and cmd != "NULL" else None


def client_session(
    row: Row,
    *,
    now: datetime,
    node: str | None,
    prefix: str,
    self_ids: AbstractSet[int],
    module_commands: frozenset[str] = frozenset(),
) -> tuple[Session, BlockingKind | None]:
    """The Session for one client, and what it is blocked on (None when not blocked).

    Called for every client on every refresh (thousands): kept to plain operations.
    """
    flags = str(row.get("flags", "N"))
    cmd = str(row.get("cmd", ""))
    idle = _int(row.get("idle"))
    age = _int(row.get("age"))
    subscriptions = _int(row.get("sub")) + _int(row.get("psub")) + _int(row.get("ssub"))
    kind = client_kind(flags, subscriptions)
    blocked = (
        blocking_kind(cmd, blocked=True, module_commands=module_commands) if "b" in flags else None
    )
    in_multi = "x" in flags
    query = _query(cmd)

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

    extra = row  # parsed for this poll only: it becomes the Session's extra without a copy
    extra["flag_words"] = list(_flag_words(flags))
    if blocked is not None:
        extra["blocked_on"] = blocked.blocker
    db = row.get("db")
    session = Session(
        id=f"{prefix}{row['id']}",
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
        is_self=row["id"].isdigit() and int(row["id"]) in self_ids,
        node=node,
        # A fresh dict nobody else holds: wrapped read-only without a copy.
        extra=MappingProxyType(extra),
    )
    return session, blocked
