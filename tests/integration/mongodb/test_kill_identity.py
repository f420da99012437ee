"""A MongoDB kill reaches only the operation named and confirmed (issue 11, item 2): the
lookup's answer must be that opid (not merely the first document the server returned),
with the connection, client, namespace and command the user saw."""

from __future__ import annotations

import dataclasses

import pytest

from dbtop.errors import RefusedError
from dbtop.model import KillMode
from tests.integration.mongodb import scripted


async def test_a_lookup_answered_with_another_operation_sends_nothing(
    engine, mongo, world, monkeypatch
):
    snap = await engine.snapshot()
    assert "404" in {s.id for s in snap.sessions}
    # The server answers the $match lookup with some other operation first (a mongos that
    # ignores the filter, a changed $currentOp): it must not be killed in 404's place.
    world.operations.sort(key=lambda op: op.get("opid") != 202)  # a killable one first
    monkeypatch.setattr(scripted, "matches", lambda doc, query: True)
    with pytest.raises(RefusedError, match="found another operation") as refused:
        await engine.kill("404", KillMode.CANCEL)
    assert "nothing was sent" in str(refused.value)
    assert not mongo.commands("killOp")


async def test_the_confirmed_operation_must_still_be_the_same(engine, mongo, world):
    snap = await engine.snapshot()
    seen = snap.session("404")
    assert seen is not None and seen.extra["ns"] == "shop.orders"
    other_ns = dataclasses.replace(seen, extra={**seen.extra, "ns": "shop.customers"})
    with pytest.raises(RefusedError, match="no longer the one you confirmed") as refused:
        await engine.kill("404", KillMode.CANCEL, expected=other_ns)
    assert "namespace is shop.orders, the confirmed one's shop.customers" in str(refused.value)
    other_conn = dataclasses.replace(seen, extra={**seen.extra, "connection_id": 1})
    with pytest.raises(RefusedError, match="connection"):
        await engine.kill("404", KillMode.CANCEL, expected=other_conn)
    elsewhere = dataclasses.replace(seen, client="10.9.9.9:1")
    with pytest.raises(RefusedError, match="client"):
        await engine.kill("404", KillMode.CANCEL, expected=elsewhere)
    assert not mongo.commands("killOp")

    result = await engine.kill("404", KillMode.CANCEL, expected=seen)
    assert result.ok
    (kill_op,) = mongo.commands("killOp")
    assert kill_op["op"] == 404
