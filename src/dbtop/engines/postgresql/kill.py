"""Cancel or terminate a backend, and find out whether it took effect.

With ``expected`` (the session as the user confirmed it) the signal is sent by a statement
that finds the backend by pid *and* backend_start (and, for a cancel, query_start) in
pg_stat_activity, so a pid given to a new backend since, or a new statement started since,
is never signalled: no window between the check and the send.
"""

from __future__ import annotations

import asyncio

import asyncpg

from dbtop.engines import identity
from dbtop.engines.postgresql.connection import query_error
from dbtop.engines.postgresql.sessions import describe_backend, is_hidden_row, signal_refusal
from dbtop.errors import NotFoundError, PrivilegeError, RefusedError
from dbtop.model import KillMode, KillResult, Session

#: how long to watch the backend for the effect of a cancel or terminate
SETTLE_S = 3.0

_STATE_SQL = """
    SELECT /* dbtop */ pid, usename, datname, state, query_start, backend_type, backend_start
    FROM pg_stat_activity WHERE pid = $1
"""


def _signal_sql(fn: str, *, timeout: bool, statement: bool) -> str:
    """The signal, sent only if the row still matches: no row when it does not.
    Parameters: $1 pid, $2 backend_start, then query_start (a cancel), then the timeout."""
    where = "pid = $1 AND backend_start = $2"
    if statement:
        where += " AND query_start = $3"
    args = f"pid, ${4 if statement else 3}" if timeout else "pid"
    return f"SELECT /* dbtop */ {fn}({args}) FROM pg_stat_activity WHERE {where}"


def check_expected(
    pid: int, before: asyncpg.Record, mode: KillMode, expected: Session | None
) -> None:
    """Refuse, with one line, a backend that is not the one confirmed."""
    if expected is None or expected.backend_start is None:
        return
    if before["backend_start"] != expected.backend_start:
        if before["backend_start"] is None:
            raise identity.changed(str(pid), "its start time is not visible to this role")
        raise identity.started_elsewhen(str(pid), before["backend_start"], expected.backend_start)
    if (
        mode is KillMode.CANCEL
        and expected.query_start is not None
        and before["query_start"] is not None
        and before["query_start"] != expected.query_start
    ):
        raise identity.new_statement(str(pid), before["query_start"], expected.query_start)


async def kill(
    conn: asyncpg.Connection,
    pid: int,
    mode: KillMode,
    *,
    version_num: int,
    expected: Session | None = None,
) -> KillResult:
    """Signal backend ``pid`` (the engine has refused read-only mode and dbtop's own)."""
    before = await conn.fetchrow(_STATE_SQL, pid)
    if before is None:
        raise NotFoundError(f"no session {pid} on this server (it may have ended)")
    check_expected(pid, before, mode, expected)
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
        if expected is not None and expected.backend_start is not None:
            signalled, done = await _signal_same(conn, pid, before, mode, version_num)
        elif mode is KillMode.TERMINATE and version_num >= 140000:
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


async def _signal_same(
    conn: asyncpg.Connection, pid: int, before: asyncpg.Record, mode: KillMode, version_num: int
) -> tuple[bool, bool]:
    """Signal the backend only if it is still the one just checked, in one statement."""
    cancel = mode is KillMode.CANCEL
    timeout = not cancel and version_num >= 140000
    fn = "pg_cancel_backend" if cancel else "pg_terminate_backend"
    sql = _signal_sql(fn, timeout=timeout, statement=cancel)
    args: list[object] = [pid, before["backend_start"]]
    if cancel:
        args.append(before["query_start"])
    if timeout:
        args.append(int(SETTLE_S * 1000))
    rows = await conn.fetch(sql, *args)
    if not rows:
        # Between the check above and this statement the backend ended, or (for a cancel)
        # its statement did: the pid may already be someone else's.
        raise RefusedError(
            f"session {pid} changed while being checked (it ended, or "
            f"{'its statement finished' if cancel else 'its pid was reused'}): nothing was sent"
        )
    result = bool(rows[0][0])
    if timeout:
        return True, result
    return result, await _settled(conn, pid, before, mode) if result else False


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
