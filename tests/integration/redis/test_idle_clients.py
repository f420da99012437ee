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
