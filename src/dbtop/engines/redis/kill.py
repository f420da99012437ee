"""``k`` and ``K`` on Redis: CLIENT UNBLOCK, CLIENT KILL ID, SCRIPT/FUNCTION KILL, CLIENT UNPAUSE.

The session ids they take are those of the Clients pane: a client id (``12``, or
``127.0.0.1:7001/12`` in a cluster), ``script`` for the busy script or function of a node,
``pause`` for a CLIENT PAUSE in force.
"""

from __future__ import annotations

from dbtop.engines.redis.commands import PAUSE, SCRIPT, SYNTHETIC
from dbtop.engines.redis.connection import CommandError, Link
from dbtop.engines.redis.info import integer
from dbtop.errors import NotFoundError
from dbtop.model import KillMode, KillResult


def _message(exc: Exception) -> str:
    return " ".join(str(exc).split())


async def kill_script(link: Link, session_id: str, mode: KillMode) -> KillResult:
    """SCRIPT KILL, and FUNCTION KILL when what runs is a function."""
    attempts = (("SCRIPT", "KILL"), ("FUNCTION", "KILL"))
    last = ""
    for command in attempts:
        try:
            await link.call(*command)
        except CommandError as exc:
            last = _message(exc.reply)
            if last.startswith("UNKILLABLE"):
                return KillResult(
                    session_id,
                    mode,
                    False,
                    "the script has already written data and cannot be killed; only "
                    "SHUTDOWN NOSAVE stops it (losing every write since the last save): "
                    "dbtop leaves that to you",
                )
            continue  # NOTBUSY, or BUSY "use FUNCTION KILL": try the other
        what = "script" if command[0] == "SCRIPT" else "function"
        return KillResult(
            session_id, mode, True, f"the busy {what} was killed ({' '.join(command)})"
        )
    if "NOTBUSY" in last:
        return KillResult(session_id, mode, False, "no script or function is running now")
    return KillResult(session_id, mode, False, f"SCRIPT KILL / FUNCTION KILL failed: {last}")


async def unpause(link: Link, session_id: str, mode: KillMode) -> KillResult:
    try:
        await link.call("CLIENT", "UNPAUSE")
    except CommandError as exc:
        return KillResult(session_id, mode, False, f"CLIENT UNPAUSE failed: {_message(exc.reply)}")
    return KillResult(session_id, mode, True, "CLIENT UNPAUSE: paused clients go on")


async def client_exists(link: Link, client_id: int) -> bool | None:
    """None when the server cannot tell (CLIENT LIST ID is Redis 6.2+)."""
    try:
        reply = await link.call("CLIENT", "LIST", "ID", client_id)
    except CommandError:
        return None
    return bool(reply and bytes(reply).strip())


async def kill_client(link: Link, session_id: str, local_id: str, mode: KillMode) -> KillResult:
    """Kill (or unblock) one client; the engine has refused dbtop's own already."""
    if local_id == SCRIPT.blocker:
        return await kill_script(link, session_id, mode)
    if local_id == PAUSE.blocker:
        return await unpause(link, session_id, mode)
    if local_id in SYNTHETIC:
        kind = SYNTHETIC[local_id]
        raise NotFoundError(
            f"{session_id} stands for the clients waiting for {kind.waits_for}; it is not a "
            "client: unblock or kill those clients one by one"
        )
    client_id = integer(local_id) if local_id.isdigit() else None
    if client_id is None:
        raise NotFoundError(f"no client {session_id}: Redis client ids are numbers")
    if await client_exists(link, client_id) is False:
        raise NotFoundError(f"no client {session_id} on {link.node} (it may have disconnected)")
    try:
        if mode is KillMode.CANCEL:
            unblocked = await link.call("CLIENT", "UNBLOCK", client_id)
            if integer(unblocked) == 1:
                return KillResult(
                    session_id,
                    mode,
                    True,
                    f"client {session_id} unblocked: its blocking command returned as on timeout",
                )
            return KillResult(
                session_id,
                mode,
                False,
                f"client {session_id} is not blocked in a blocking command: nothing to unblock "
                "(K closes its connection)",
            )
        killed = await link.call("CLIENT", "KILL", "ID", client_id)
    except CommandError as exc:
        return KillResult(session_id, mode, False, f"{link.node}: {_message(exc.reply)}")
    if integer(killed) == 1:
        return KillResult(session_id, mode, True, f"client {session_id} disconnected (CLIENT KILL)")
    raise NotFoundError(f"no client {session_id} on {link.node} (it may have disconnected)")
