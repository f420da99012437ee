"""Cancel or terminate a backend, and find out whether it took effect."""

from __future__ import annotations

import asyncio

import asyncpg

from dbtop.engines.postgresql.connection import query_error
from dbtop.engines.postgresql.sessions import describe_backend, is_hidden_row, signal_refusal
from dbtop.errors import NotFoundError, PrivilegeError
from dbtop.model import KillMode, KillResult

#: how long to watch the backend for the effect of a cancel or terminate
SETTLE_S = 3.0

_STATE_SQL = """
    SELECT /* dbtop */ pid, usename, datname, state, query_start, backend_type
    FROM pg_stat_activity WHERE pid = $1
"""


async def kill(
    conn: asyncpg.Connection, pid: int, mode: KillMode, *, version_num: int
) -> KillResult:
    """Signal backend ``pid`` (the engine has refused read-only mode and dbtop's own)."""
    before = await conn.fetchrow(_STATE_SQL, pid)
    if before is None:
        raise NotFoundError(f"no session {pid} on this server (it may have ended)")
    who = describe_backend(before["usename"], before["datname"], before["backend_type"])
    hidden = is_hidden_row(before["state"], before["backend_type"])
    # a hidden backend's state is unknown, not idle: the server says whether it may be signalled
    if mode is KillMode.CANCEL and before["state"] != "active" and not hidden:
        return KillResult(
            str(pid),
            mode,
            False,
            f"session {pid} ({who}) is {before['state'] or 'not running a query'}: "
            "nothing to cancel (terminate ends the session)",
        )
    try:
        if mode is KillMode.TERMINATE and version_num >= 140000:
            # With a timeout the server waits for the backend to exit and says whether it did.
            done = await conn.fetchval(
                "SELECT pg_terminate_backend($1, $2)", pid, int(SETTLE_S * 1000)
            )
            signalled = True
        else:
            fn = "pg_cancel_backend" if mode is KillMode.CANCEL else "pg_terminate_backend"
            signalled = await conn.fetchval(f"SELECT {fn}($1)", pid)
            done = await _settled(conn, pid, before, mode) if signalled else False
    except asyncpg.InsufficientPrivilegeError:
        raise PrivilegeError(
            await signal_refusal(conn, pid, mode.value, before["usename"])
        ) from None
    except asyncpg.PostgresError as exc:
        raise query_error(exc, f"{mode.value} session {pid}") from None
    if not signalled:
        return KillResult(str(pid), mode, False, f"session {pid} ({who}) was not signalled")
    if mode is KillMode.CANCEL and hidden:
        # its state was hidden before and still is: "cancelled" would be a guess
        return KillResult(
            str(pid),
            mode,
            False,
            f"asked session {pid} ({who}) to cancel; whether it stopped is hidden from this "
            "role (needs pg_monitor)",
        )
    if mode is KillMode.CANCEL:
        message = (
            f"cancelled the query of session {pid} ({who})"
            if done
            else f"asked session {pid} ({who}) to cancel; it is still running its query"
        )
    else:
        message = (
            f"terminated session {pid} ({who})"
            if done
            else f"asked session {pid} ({who}) to terminate; it has not exited yet"
        )
    return KillResult(str(pid), mode, bool(done), message)


async def _settled(
    conn: asyncpg.Connection, pid: int, before: asyncpg.Record, mode: KillMode
) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_S
    while True:
        now = await conn.fetchrow(_STATE_SQL, pid)
        if now is None:
            return True
        if mode is KillMode.CANCEL and (
            now["state"] != "active" or now["query_start"] != before["query_start"]
        ):
            return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.05)
