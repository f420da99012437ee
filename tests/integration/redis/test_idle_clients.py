"""CLIENT LIST on a quiet server (issue 14): the list is not read again while INFO shows
nothing happened since the last one, and what does happen is on the very next snapshot."""

from __future__ import annotations

import redis

from tests.waiting import wait_until

from .conftest import Server
from .test_engine import connected

KEPT_S = 0.5


def _list_age(snapshot) -> float:
    (age,) = snapshot.extra["clients_age_s"].values()
    return float(age)


async def test_quiet_server_keeps_its_client_list_and_sees_a_newcomer_at_once(
    private: Server, private_db: redis.Redis
) -> None:
    private_db.connection_pool.disconnect()  # the fixture's client: not left "just active"
    async with connected(private.url(9)) as engine:

        async def kept() -> float:
            # nothing but dbtop talks to the server: the last list is kept, poll after poll
            # (a small server's CLIENT LIST costs microseconds: its budget alone would have
            # it read again within milliseconds)
            age = _list_age(await engine.snapshot())
            return age if age >= KEPT_S else 0.0

        await wait_until(kept, what=f"a client list kept {KEPT_S} s")
        newcomer = redis.Redis(port=private.port, password=private.password, client_name="late")
        try:
            newcomer.set("dbtop-test:late", "1")
            snapshot = await engine.snapshot()
            # INFO showed another client's command: the list was read in this very poll
            assert _list_age(snapshot) < KEPT_S
            assert "late" in {s.application for s in snapshot.sessions}
        finally:
            newcomer.delete("dbtop-test:late")
            newcomer.close()


async def test_a_kept_list_moves_idle_clocks_on_and_sees_a_change_or_a_departure_at_once(
    private: Server, private_db: redis.Redis, monkeypatch
) -> None:
    from dbtop.engines.redis import engine as engine_module

    # idle clients made again on every poll (their clocks moved on), not every 5 s
    monkeypatch.setattr(engine_module, "CLOCK_REFRESH_S", 0.0)
    private_db.connection_pool.disconnect()
    idler = redis.Redis(port=private.port, password=private.password, client_name="idler")
    idler.ping()
    (idler_id,) = [c["id"] for c in idler.client_list() if c["name"] == "idler"]
    try:
        async with connected(private.url(9)) as engine:

            def idler_session(snapshot):
                return next((s for s in snapshot.sessions if s.id == str(idler_id)), None)

            first = idler_session(await engine.snapshot())
            assert first is not None

            async def clock_moved() -> bool:
                snapshot = await engine.snapshot()
                session = idler_session(snapshot)
                # the list is the one read first, its idle clock has moved on
                return (
                    _list_age(snapshot) >= 1.0
                    and session is not None
                    and session.duration_s >= first.duration_s + 1
                    and session.extra["idle"] == session.duration_s
                )

            await wait_until(clock_moved, what="an idle clock moved on without CLIENT LIST")
            idler.client_setname("renamed")  # a command: the list is read again at once
            snapshot = await engine.snapshot()
            assert _list_age(snapshot) < KEPT_S
            assert idler_session(snapshot).application == "renamed"
            idler.close()

            async def gone() -> bool:
                return idler_session(await engine.snapshot()) is None

            await wait_until(gone, what="the disconnected client gone from the list")
    finally:
        idler.close()


async def test_latency_percentiles_stay_between_two_full_infos(
    private: Server, private_db: redis.Redis
) -> None:
    private_db.hgetall("dbtop-test:percentiles")
    async with connected(private.url(9)) as engine:

        async def partial_info_with_percentiles():
            snapshot = await engine.snapshot()
            (age,) = snapshot.extra["latencystats_age_s"].values()
            hgetall = next((s for s in snapshot.statements if s.id == "hgetall"), None)
            # a poll that asked INFO without latencystats, and still shows the percentiles
            return age > 0 and hgetall is not None and "p50_ms" in hgetall.extra

        await wait_until(partial_info_with_percentiles, what="percentiles kept between INFOs")


async def test_a_quiet_poll_hands_on_the_very_rows_of_the_last_one(
    private: Server, private_db: redis.Redis
) -> None:
    private_db.set("dbtop-test:quiet", "1")
    private_db.connection_pool.disconnect()
    async with connected(private.url(9)) as engine:
        previous = await engine.snapshot()

        async def handed_on() -> bool:
            nonlocal previous
            snapshot = await engine.snapshot()
            # nothing but dbtop talks to the server: the same Sessions and command counters
            # (dbtop's own commands are left out) in the very tuples of the last snapshot,
            # which the history ring and the panes then see unchanged at once
            same = (
                snapshot.sessions is previous.sessions
                and snapshot.statements is previous.statements
                and snapshot.findings is previous.findings
                and bool(snapshot.sessions)
                and bool(snapshot.statements)
            )
            previous = snapshot
            return same

        await wait_until(handed_on, what="a poll that hands the last rows on")
        other = redis.Redis(port=private.port, password=private.password)
        try:
            other.get("dbtop-test:quiet")  # a command by another client: new counters
            snapshot = await engine.snapshot()
            assert snapshot.statements is not previous.statements
            assert snapshot.statements != previous.statements
        finally:
            other.delete("dbtop-test:quiet")
            other.close()
