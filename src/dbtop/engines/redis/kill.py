"""``k`` and ``K`` on Redis: CLIENT UNBLOCK, CLIENT KILL ID, SCRIPT/FUNCTION KILL, CLIENT UNPAUSE.

The session ids they take are those of the Clients pane: a client id (``12``, or
``127.0.0.1:7001/12`` in a cluster), ``script`` for the busy script or function of a node,
``pause`` for a CLIENT PAUSE in force.

A kill with ``expected`` (the client as the user confirmed it) first asks, in one round
trip, INFO server and CLIENT LIST ID: the server run (``run_id``; client ids are monotonic
within a run, so the id names one client for the run's whole life) and the client's
creation time on the server's clock (``server_time_usec`` minus ``age``, never the local
clock) must be those confirmed. CLIENT KILL then names the address too, so a client that
is not the one checked is not touched.
"""

from __future__ import annotations

from datetime import UTC, datetime

from dbtop.engines import identity
from dbtop.engines.redis.client_list import parse_client_list
from dbtop.engines.redis.commands import PAUSE, SCRIPT, synthetic_kind
from dbtop.engines.redis.connection import CommandError, Link
from dbtop.engines.redis.info import integer, parse_info
from dbtop.errors import NotFoundError
from dbtop.model import KillMode, KillResult, Session

#: CLIENT LIST gives ``age`` in whole seconds: two readings of one client's creation time
#: differ by less than one second (plus the round trip)
CREATED_SLACK_S = 2.0


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


async def check_same_client(
    link: Link, session_id: str, client_id: int, expected: Session
) -> str | None:
    """Refuse (one line) a client that is not the one confirmed; its address when it is."""
    replies = await link.pipeline([["INFO", "server"], ["CLIENT", "LIST", "ID", client_id]])
    info = {} if isinstance(replies[0], Exception) else parse_info(replies[0])
    lines = [] if isinstance(replies[1], Exception) else parse_client_list(replies[1])
    confirmed_run = expected.extra.get("run_id")
    run_id = info.get("run_id")
    if isinstance(confirmed_run, str) and run_id and run_id != confirmed_run:
        raise identity.changed(
            session_id,
            f"{link.node} restarted since (run_id {run_id[:12]}, the confirmed one "
            f"{confirmed_run[:12]}) and client ids start again",
        )
    if isinstance(replies[1], Exception):
        return expected.client  # CLIENT LIST ID is Redis 6.2+: the address still guards
    if not lines:
        raise NotFoundError(f"no client {session_id} on {link.node} (it may have disconnected)")
    line = lines[0]
    address = line.get("addr")
    if expected.client and address and address != expected.client:
        raise identity.changed(
            session_id, f"its address is {address}, the confirmed one's {expected.client}"
        )
    server_us = info.get("server_time_usec", "")
    if expected.backend_start is not None and server_us.isdigit():
        created = datetime.fromtimestamp(int(server_us) / 1e6 - line.number("age"), UTC)
        if abs((created - expected.backend_start).total_seconds()) >= CREATED_SLACK_S:
            raise identity.started_elsewhen(session_id, created, expected.backend_start)
    return address if isinstance(address, str) else None


async def kill_client(
    link: Link,
    session_id: str,
    local_id: str,
    mode: KillMode,
    expected: Session | None = None,
) -> KillResult:
    """Kill (or unblock) one client; the engine has refused dbtop's own already."""
    if local_id == SCRIPT.blocker:
        return await kill_script(link, session_id, mode)
    if local_id == PAUSE.blocker:
        return await unpause(link, session_id, mode)
    if (kind := synthetic_kind(local_id)) is not None:
        raise NotFoundError(
            f"{session_id} stands for the clients waiting for {kind.waits_for}; it is not a "
            "client: unblock or kill those clients one by one"
        )
    client_id = integer(local_id) if local_id.isdigit() else None
    if client_id is None:
        raise NotFoundError(f"no client {session_id}: Redis client ids are numbers")
    address: str | None = None
    if expected is not None:
        address = await check_same_client(link, session_id, client_id, expected)
    elif await client_exists(link, client_id) is False:
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
        by_address = ("ADDR", address) if address else ()
        killed = await link.call("CLIENT", "KILL", "ID", client_id, *by_address)
    except CommandError as exc:
        return KillResult(session_id, mode, False, f"{link.node}: {_message(exc.reply)}")
    if integer(killed) == 1:
        return KillResult(session_id, mode, True, f"client {session_id} disconnected (CLIENT KILL)")
    raise NotFoundError(f"no client {session_id} on {link.node} (it may have disconnected)")
