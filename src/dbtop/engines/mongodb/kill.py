"""k / K: killOp for an operation, killSessions for its logical session.

``k`` (cancel) sends ``killOp``: the operation stops at its next interrupt check and its
client gets an error; the connection stays. ``K`` (terminate) sends ``killSessions`` for the
operation's logical session: every operation and cursor of the session ends and an open
transaction aborts (MongoDB has no command that closes another client's connection).

The operation is looked up again right before the kill, so one that ended since the last
refresh is reported as gone instead of killing whatever reuses its number; dbtop's own
operations and the server's internal threads are never killed.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from bson.binary import Binary

from dbtop.engines.mongodb.sessions import Parsed, lsid_of
from dbtop.errors import RefusedError, UsageError
from dbtop.model import KillMode

KILL_ROLE_HINT = "grant the hostManager role (killop and killAnySession)"

_OPID = re.compile(r"^-?\d+$")
_SHARD_OPID = re.compile(r"^[^:\s]+:-?\d+$")


def target_match(session_id: str) -> dict[str, Any]:
    """The $currentOp $match that finds the operation a session id names."""
    text = session_id.strip()
    if _OPID.match(text):
        return {"opid": int(text)}
    if _SHARD_OPID.match(text):
        return {"opid": text}
    if text.startswith("conn") and text[4:].isdigit():
        return {"connectionId": int(text[4:])}
    if text.startswith("session:"):
        try:
            return {"lsid.id": Binary.from_uuid(uuid.UUID(text.removeprefix("session:")))}
        except ValueError:
            pass
    raise UsageError(
        f"not an operation id: {session_id!r} (an opid such as 12345, shard01:12345 on a "
        "mongos, conn42 for a connection, session:<uuid> for a session)"
    )


def check(op: Parsed, mode: KillMode) -> None:
    """Refuse what dbtop never kills, with the reason."""
    if op.is_self:
        raise RefusedError(f"operation {op.id} is dbtop's own")
    if op.internal:
        desc = op.doc.get("desc")
        what = f" ({desc})" if isinstance(desc, str) else ""
        raise RefusedError(f"operation {op.id} is a server thread{what}: dbtop does not kill it")
    if mode is KillMode.CANCEL and op.doc.get("opid") is None:
        raise RefusedError(
            f"{op.id} runs no operation to kill; K (terminate) ends its logical session"
        )
    if mode is KillMode.TERMINATE and lsid_of(op.doc) is None:
        raise RefusedError(
            f"operation {op.id} has no logical session to end; k (cancel) stops the operation"
        )


def kill_command(op: Parsed, mode: KillMode) -> dict[str, Any]:
    if mode is KillMode.CANCEL:
        return {"killOp": 1, "op": op.doc["opid"]}
    lsid = lsid_of(op.doc)
    return {"killSessions": [{"id": lsid}]}


def describe(op: Parsed) -> str:
    doc: Mapping[str, Any] = op.doc
    what = " ".join(str(p) for p in (doc.get("op"), doc.get("ns")) if isinstance(p, str) and p)
    return f"operation {op.id}" + (f" ({what})" if what else "")


def sent_message(op: Parsed, mode: KillMode) -> str:
    if mode is KillMode.CANCEL:
        return f"killOp sent to {describe(op)}: it stops at its next interrupt check"
    return (
        f"killSessions sent for the session of {describe(op)}: its operations and cursors "
        "end, an open transaction aborts"
    )
