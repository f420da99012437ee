"""The contract every engine keeps, checked the same way on all four through the public
``Engine`` protocol: read-only refuses kill, dbtop's own connection is never a target,
explain never writes, what is missing says so with a typed notice, and bad input gives
one line (from the engine and from the CLI)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from dbtop.engines.base import ConnectOptions, Engine
from dbtop.engines.registry import create_engine
from dbtop.errors import AuthError, DbtopError, RefusedError
from dbtop.model import Capabilities, Feature, KillMode, Notice, Snapshot
from tests.contract.conftest import Target
from tests.waiting import wait_until

KILLS = (Feature.CANCEL, Feature.TERMINATE)
#: a password that no message may repeat
SECRET = "pw-Zq81x"


def _all_notices(caps: Capabilities, snapshot: Snapshot) -> list[Notice]:
    return [*caps.notices, *snapshot.capabilities.notices, *snapshot.notices]


# -- (a) read-only refuses kill --------------------------------------------------------------


async def test_read_only_declares_no_kill(read_only_engine: Engine) -> None:
    snapshot = await read_only_engine.snapshot()
    for caps in (read_only_engine.capabilities, snapshot.capabilities):
        assert caps.read_only
        for feature in KILLS:
            assert feature not in caps.features
            assert not caps.has(feature)


async def test_read_only_refuses_kill(read_only_engine: Engine) -> None:
    snapshot = await read_only_engine.snapshot()
    others = [s.id for s in snapshot.sessions if not s.is_self][:3]
    for session_id in [*others, "1", "999999"]:
        for mode in KillMode:
            with pytest.raises(RefusedError) as err:
                await read_only_engine.kill(session_id, mode)
            assert "\n" not in str(err.value)
    # nothing was killed: the sessions listed before are still there (the monitor too)
    after = {s.id for s in (await read_only_engine.snapshot()).sessions}
    assert set(others) <= after


async def test_read_only_sends_no_kill(target: Target, read_only_engine: Engine) -> None:
    if target.kill_sent is None:
        pytest.skip(f"{target.engine}: what the server was sent is not visible here")
    snapshot = await read_only_engine.snapshot()
    for session in snapshot.sessions:
        for mode in KillMode:
            with pytest.raises(RefusedError):
                await read_only_engine.kill(session.id, mode)
    assert not target.kill_sent()


# -- (b) dbtop's own connection is never a target --------------------------------------------


async def test_own_connection_is_marked_and_never_killed(target: Target) -> None:
    app_name = target.app_name()
    engine = target.build(application_name=app_name)
    await engine.connect()
    try:
        snapshot = await engine.snapshot()
        own = {s.id for s in snapshot.sessions if s.is_self}
        outside: set[str] = set()
        if target.own_ids is not None:
            probe = target.own_ids

            async def seen() -> bool:
                outside.update(await probe(app_name))
                return bool(outside)

            if target.engine in ("postgresql", "redis"):
                # these name every connection after application_name: it must show up
                await wait_until(seen, what=f"{app_name} in the server's connection list")
            else:
                await seen()
            # every connection of dbtop that the snapshot lists is marked as its own
            listed = {s.id: s for s in snapshot.sessions}
            for session_id in outside & set(listed):
                assert listed[session_id].is_self, f"own session {session_id} not marked"
        targets = own | outside
        if not targets:
            pytest.skip(f"{target.engine} lists no session of dbtop's own to try")
        # never the server's work: not in the lock graph
        for wait in snapshot.lock_waits:
            assert wait.waiter not in targets and wait.blocker not in targets
        if target.own_operation is not None:
            # an id per operation: the listing's has ended; try one still running
            mine = next(s for s in snapshot.sessions if s.is_self)
            targets = {target.own_operation(mine)}
        for session_id in sorted(targets):
            for mode in KillMode:
                with pytest.raises(RefusedError) as err:
                    await engine.kill(session_id, mode)
                assert "\n" not in str(err.value)
        if target.kill_sent is not None:
            assert not target.kill_sent()
        # and the monitor still works: nothing of its own was cut off
        await engine.snapshot()
    finally:
        await engine.close()


# -- (c) explain never writes ----------------------------------------------------------------


@pytest.mark.parametrize("analyze", [True, False], ids=["analyze", "plan"])
async def test_explain_never_writes(target: Target, engine: Engine, analyze: bool) -> None:
    assert target.writes, "each target names writes to try"
    for write in target.writes:
        try:
            await engine.explain(query=write.statement, analyze=analyze)
        except DbtopError as exc:  # refusing is fine; one line
            assert "\n" not in str(exc)
        assert not await write.happened(), f"explain ran {write.statement!r}"


async def test_explain_analyze_of_a_write_is_not_a_run(target: Target, engine: Engine) -> None:
    """analyze runs the statement: for a write it is refused, or the plan comes back
    without running it (an analyzed plan of a write means it ran, even rolled back)."""
    for write in target.writes:
        try:
            plan = await engine.explain(query=write.statement, analyze=True)
        except DbtopError as exc:
            assert "\n" not in str(exc)
            continue
        assert not plan.analyzed, f"{write.statement!r} was run to analyze it"


# -- (d) a missing feature gives a typed notice -------------------------------------------


async def test_every_notice_names_a_feature(engine: Engine, read_only_engine: Engine) -> None:
    for built in (engine, read_only_engine):
        snapshot = await built.snapshot()
        for notice in _all_notices(built.capabilities, snapshot):
            assert isinstance(notice.feature, Feature), notice
            assert notice.message and "\n" not in notice.message


async def test_a_missing_action_has_a_notice(read_only_engine: Engine) -> None:
    snapshot = await read_only_engine.snapshot()
    caps = snapshot.capabilities
    missing = [f for f in KILLS if not caps.has(f)]
    assert missing
    assert any(n.feature in missing for n in caps.notices)


async def test_statements_missing_says_why(engine: Engine) -> None:
    snapshot = await engine.snapshot()
    caps = snapshot.capabilities
    if caps.has(Feature.STATEMENTS):
        pytest.skip("statements are available on this server")
    notices = [
        n for n in _all_notices(engine.capabilities, snapshot) if n.feature == Feature.STATEMENTS
    ]
    assert notices, "statements are missing and no notice says why"


# -- (e) bad input gives one line ------------------------------------------------------------


async def _connect_error(url: str) -> DbtopError:
    engine: Engine | None = None
    try:
        with pytest.raises(DbtopError) as err:
            engine = create_engine(url, ConnectOptions(connect_timeout_s=3.0))
            await engine.connect()
    finally:
        if engine is not None:
            await engine.close()
    message = str(err.value)
    assert message and "\n" not in message, message
    assert SECRET not in message
    return err.value


async def test_malformed_url(target: Target) -> None:
    await _connect_error(target.malformed_url)


async def test_unreachable_port(target: Target) -> None:
    await _connect_error(target.closed_port_url)


def test_wrong_password(target: Target, request: pytest.FixtureRequest) -> None:
    # not a coroutine: the URL may need a server started first by a fixture that runs its
    # own event loop (the private PostgreSQL 18)
    if target.wrong_password_url is None:
        pytest.skip(f"{target.engine}: no server here that needs a password")
    url = target.wrong_password_url(request).replace(":wrong@", f":{SECRET}@")
    err = asyncio.run(_connect_error(url))
    # the credentials were what failed, not something on the way
    assert isinstance(err, AuthError), f"{type(err).__name__}: {err}"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command in its own process (the dbtop that PYTHONPATH or the venv gives)."""
    return subprocess.run(
        [sys.executable, "-m", "dbtop.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )


@pytest.mark.parametrize("which", ["malformed", "closed port"])
def test_cli_bad_url_is_one_line_and_exit_2(target: Target, which: str) -> None:
    url = target.malformed_url if which == "malformed" else target.closed_port_url
    proc = _cli("snapshot", "--connect-timeout", "3", url)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert proc.stdout == ""
