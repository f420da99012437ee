"""The client-side deadlines line up: the engine's own fire before the poller's backstop."""

from __future__ import annotations

from dbtop.engines.base import ConnectOptions, EngineBase
from dbtop.poller import Poller


class _Engine(EngineBase):
    name = "fake"


def _poller_for(options: ConnectOptions) -> Poller:
    poller = Poller(
        lambda: _Engine(options, "fake"), interval_s=1.0, on_result=print, on_status=print
    )
    poller._engine = _Engine(options, "fake")  # type: ignore[assignment]
    return poller


def test_deadline_is_the_statement_timeout_plus_a_margin() -> None:
    options = ConnectOptions(statement_timeout_ms=2000)
    assert options.deadline_s > 2.0


def test_poll_backstop_never_cuts_before_the_engine_deadline() -> None:
    # --statement-timeout 30: the engine gives up at 45 s; a 10 s poll cut would word the
    # failure "no answer within 10s" while the server is merely slow within its limit.
    options = ConnectOptions(connect_timeout_s=5.0, statement_timeout_ms=30_000)
    assert _poller_for(options)._timeout() > options.connect_timeout_s + options.deadline_s


def test_poll_backstop_keeps_its_floor() -> None:
    assert _poller_for(ConnectOptions())._timeout() >= 10.0
