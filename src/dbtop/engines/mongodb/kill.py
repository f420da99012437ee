"""k / K: killOp for an operation, killSessions for its logical session.

``k`` (cancel) sends ``killOp``: the operation stops at its next interrupt check and its
client gets an error; the connection stays. ``K`` (terminate) sends ``killSessions`` for the
operation's logical session: every operation and cursor of the session ends and an open
transaction aborts (MongoDB has no command that closes another client's connection).

The operation is looked up again right before the kill, so one that ended since the last
refresh is reported as gone instead of killing whatever reuses its number; dbtop's own
operations and the server's internal threads are never killed. The document the lookup
returns must be the operation named (its opid, connection or session), and, when the
user confirmed a session (``expected``), the same operation as shown: the same opid,
connection, client, namespace and command. Otherwise nothing is sent.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from bson.binary import Binary

from dbtop.engines import identity
from dbtop.engines.mongodb import values
from dbtop.engines.mongodb.sessions import Parsed, client_of, command_of, lsid_of
from dbtop.engines.mongodb.summary import integer
from dbtop.errors import RefusedError, UsageError
from dbtop.model import KillMode, Session

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


def is_named(doc: Mapping[str, Any], match: Mapping[str, Any]) -> bool:
    """Whether a $currentOp document is the one ``match`` (from target_match) asks for."""
    if "opid" in match:
        opid = doc.get("opid")
        return opid is not None and not isinstance(opid, bool) and str(opid) == str(match["opid"])
    if "connectionId" in match:
        return integer(doc.get("connectionId")) == match["connectionId"]
    if "lsid.id" in match:
        return lsid_of(doc) == match["lsid.id"]
    return False


def facts(doc: Mapping[str, Any]) -> dict[str, Any]:
    """What tells one operation from another, under the names of Session.extra."""
    command = command_of(doc)
    ns = doc.get("ns")
    return {
        "opid": values.plain(doc.get("opid")),
        "connection_id": integer(doc.get("connectionId")),
        "ns": ns if isinstance(ns, str) else None,
        "op": values.text(doc.get("op")),
        "command_name": next(iter(command), None) if command else None,
    }


def check_same(
    op: Parsed, session_id: str, match: Mapping[str, Any], expected: Session | None
) -> None:
    """Refuse (one line) a lookup answer that is not the operation named or confirmed."""
    if not is_named(op.doc, match):
        raise RefusedError(
            f"looking up {session_id} found another operation ({op.id}): nothing was sent"
        )
    if expected is None:
        return
    now = facts(op.doc)
    names = {"opid": "opid", "connection_id": "connection", "ns": "namespace", "op": "op",
             "command_name": "command"}  # fmt: skip
    for key, name in names.items():
        was = expected.extra.get(key)
        if was is not None and now[key] != was:
            raise identity.changed(
                session_id, f"its {name} is {now[key]}, the confirmed one's {was}"
            )
    client = client_of(op.doc)
    if expected.client and client and client != expected.client:
        raise identity.changed(
            session_id, f"its client is {client}, the confirmed one's {expected.client}"
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
