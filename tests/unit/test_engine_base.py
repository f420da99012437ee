"""The helpers every engine shares (engines/base, sections, refresh, own): each test pins
one behaviour the engines rely on, and fails if that behaviour changes."""

from __future__ import annotations

from typing import ClassVar

import pytest

from dbtop.engines.base import READ_ONLY_NOTICE, ConnectOptions, EngineBase
from dbtop.engines.own import OwnConnections
from dbtop.engines.refresh import Every
from dbtop.engines.sections import Sections
from dbtop.errors import RefusedError
from dbtop.model import ACTIONS, Capabilities, Feature, Notice, PaneLabels, Severity

# ----------------------------------------------------------------------------- ConnectOptions


def test_deadline_is_the_statement_timeout_plus_at_least_a_second() -> None:
    assert ConnectOptions(statement_timeout_ms=2000).deadline_s == pytest.approx(3.0)
    # a short timeout still leaves the network a whole second
    assert ConnectOptions(statement_timeout_ms=200).deadline_s == pytest.approx(1.2)


def test_deadline_margin_grows_with_a_long_timeout() -> None:
    # 10 s on the server: half of it again for the round trip
    assert ConnectOptions(statement_timeout_ms=10_000).deadline_s == pytest.approx(15.0)


def test_deadline_is_always_past_the_server_limit() -> None:
    for ms in (1, 100, 999, 2000, 5000, 60_000):
        options = ConnectOptions(statement_timeout_ms=ms)
        assert options.deadline_s > ms / 1000


# ------------------------------------------------------------------------------- Capabilities


def test_capabilities_has_drops_actions_under_read_only() -> None:
    every = frozenset(Feature)
    writable = Capabilities(features=every)
    read_only = Capabilities(features=every, read_only=True)
    for feature in Feature:
        assert writable.has(feature)
        assert read_only.has(feature) is (feature not in ACTIONS)


def test_actions_are_the_writes() -> None:
    assert {Feature.CANCEL, Feature.TERMINATE, Feature.PROFILER} <= ACTIONS
    assert Feature.SESSIONS not in ACTIONS
    assert Feature.EXPLAIN not in ACTIONS


def test_capabilities_has_only_what_is_declared() -> None:
    caps = Capabilities(features=frozenset({Feature.SESSIONS}))
    assert caps.has(Feature.SESSIONS)
    assert not caps.has(Feature.STATEMENTS)


def test_notices_for_filters_by_feature() -> None:
    a = Notice(Feature.STATEMENTS, "no statements")
    b = Notice(Feature.LOCKS, "no locks")
    caps = Capabilities(notices=(a, b))
    assert caps.notices_for(Feature.STATEMENTS) == (a,)
    assert caps.notices_for(Feature.LOCKS, Feature.STATEMENTS) == (a, b)
    assert caps.notices_for(Feature.INDEXES) == ()


# --------------------------------------------------------------------------------- EngineBase


class _Engine(EngineBase):
    name: ClassVar[str] = "fake"


def _engine(read_only: bool = False) -> _Engine:
    return _Engine(ConnectOptions(read_only=read_only), "fake://here")


def test_base_keeps_options_and_address() -> None:
    engine = _engine()
    assert engine.address == "fake://here"
    assert engine.options.read_only is False
    assert _Engine(None, "x").options == ConnectOptions()


def test_capabilities_before_declare_carry_read_only() -> None:
    assert _engine(read_only=True).capabilities.read_only is True
    assert _engine().capabilities.features == frozenset()


def test_declare_keeps_every_feature_when_writable() -> None:
    engine = _engine()
    notice = Notice(Feature.STATEMENTS, "missing")
    labels = PaneLabels()
    caps = engine.declare(
        [Feature.SESSIONS, Feature.CANCEL, Feature.TERMINATE],
        [notice],
        labels=labels,
        profiler_databases=("app",),
        extra={"role": "monitor"},
    )
    assert caps is engine.capabilities
    assert caps.features == {Feature.SESSIONS, Feature.CANCEL, Feature.TERMINATE}
    assert caps.notices == (notice,)
    assert caps.labels is labels
    assert caps.profiler_databases == ("app",)
    assert caps.extra["role"] == "monitor"
    assert caps.read_only is False


def test_declare_drops_actions_and_says_why_under_read_only() -> None:
    engine = _engine(read_only=True)
    caps = engine.declare([Feature.SESSIONS, Feature.CANCEL, Feature.TERMINATE, Feature.PROFILER])
    assert caps.features == {Feature.SESSIONS}
    assert caps.read_only is True
    assert READ_ONLY_NOTICE in caps.notices
    assert READ_ONLY_NOTICE.feature is Feature.CANCEL
    assert not caps.has(Feature.CANCEL)


def test_declare_extra_is_read_only() -> None:
    source = {"role": "monitor"}
    caps = _engine().declare([], extra=source)
    source["role"] = "changed"
    assert caps.extra["role"] == "monitor"
    with pytest.raises(TypeError):
        caps.extra["role"] = "x"  # type: ignore[index]  # writing is what must fail


def test_refuse_read_only() -> None:
    _engine().refuse_read_only()  # writable: nothing happens
    with pytest.raises(RefusedError, match="kill is refused"):
        _engine(read_only=True).refuse_read_only()
    with pytest.raises(RefusedError, match="profiler"):
        _engine(read_only=True).refuse_read_only("profiler")


def test_refuse_own() -> None:
    engine = _engine()
    engine.refuse_own("12", ["7", "8"])  # someone else's: nothing happens
    with pytest.raises(RefusedError, match="own connection") as err:
        engine.refuse_own("7", iter(["7", "8"]))
    assert "\n" not in str(err.value)


async def test_default_set_profiling_refuses() -> None:
    with pytest.raises(RefusedError, match="fake has no profiler"):
        await _engine().set_profiling("app")


# ----------------------------------------------------------------------------------- Sections


class _Lost(Exception):
    pass


class _Recoverable(Exception):
    pass


def _sections() -> Sections:
    def lost(exc: BaseException, what: str) -> BaseException | None:
        return ConnectionError(f"lost during {what}") if isinstance(exc, _Lost) else None

    return Sections(recoverable=(_Recoverable,), lost=lost)


async def _value(value: int) -> int:
    return value


async def _raise(exc: Exception) -> int:
    raise exc


async def test_section_result_passes_through() -> None:
    sections = _sections()
    assert await sections.read(Feature.SESSIONS, "sessions", _value(3), fallback=0) == 3
    assert sections.notices == []


async def test_recoverable_failure_gives_fallback_and_typed_notice() -> None:
    sections = _sections()
    got = await sections.read(
        Feature.INDEXES, "index statistics", _raise(_Recoverable("timeout")), fallback=-1
    )
    assert got == -1
    [notice] = sections.notices
    assert notice.feature is Feature.INDEXES
    assert notice.message == "could not read index statistics: timeout"


async def test_lost_connection_ends_the_poll() -> None:
    sections = _sections()
    with pytest.raises(ConnectionError, match="lost during locks"):
        await sections.read(Feature.LOCKS, "locks", _raise(_Lost()), fallback=0)
    assert sections.notices == []


async def test_unexpected_error_is_not_swallowed() -> None:
    sections = _sections()
    with pytest.raises(KeyError):
        await sections.read(Feature.LOCKS, "locks", _raise(KeyError("bug")), fallback=0)
    assert sections.notices == []


async def test_describe_shapes_the_notice() -> None:
    sections = Sections(
        recoverable=(_Recoverable,), lost=lambda exc, what: None, describe=lambda e: "short"
    )
    await sections.read(Feature.SERVER, "server", _raise(_Recoverable("long text")), None)
    assert sections.notices[0].message == "could not read server: short"


async def test_notice_shapes_the_whole_notice() -> None:
    def lost(exc: BaseException, what: str) -> BaseException | None:
        return None

    def make(feature: Feature, what: str, exc: BaseException) -> Notice:
        return Notice(feature, f"{what} timed out", "raise the timeout", Severity.WARNING)

    made = Sections(recoverable=(_Recoverable,), lost=lost, notice=make)
    await made.read(Feature.INDEXES, "indexes", _raise(_Recoverable()), None)
    assert made.notices == [
        Notice(Feature.INDEXES, "indexes timed out", "raise the timeout", Severity.WARNING)
    ]


def test_note() -> None:
    sections = _sections()
    sections.note(None)
    assert sections.notices == []
    notice = Notice(Feature.STATEMENTS, "x")
    sections.note(notice)
    assert sections.notices == [notice]


# -------------------------------------------------------------------------------------- Every


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_every_reads_once_per_period() -> None:
    clock = _Clock()
    every: Every[int] = Every(10.0, initial=0, clock=clock)
    reads = 0

    async def fetch() -> int:
        nonlocal reads
        reads += 1
        return reads

    assert every.age_s is None and every.due()
    assert await every.get(fetch) == 1
    clock.now += 9.9
    assert not every.due()
    assert await every.get(fetch) == 1  # cached
    assert every.age_s == pytest.approx(9.9)
    clock.now += 0.1
    assert every.due()
    assert await every.get(fetch) == 2
    assert reads == 2


async def test_every_period_override_and_invalidate() -> None:
    clock = _Clock()
    every: Every[str] = Every(60.0, initial="", clock=clock)
    values = iter(["a", "b", "c"])

    async def fetch() -> str:
        return next(values)

    assert await every.get(fetch) == "a"
    assert await every.get(fetch, period_s=0) == "b"  # 0: read now
    assert await every.get(fetch) == "b"
    every.invalidate()
    assert every.due()
    assert await every.get(fetch) == "c"


async def test_every_failed_read_is_retried_next_time() -> None:
    clock = _Clock()
    every: Every[int] = Every(10.0, initial=7, clock=clock)

    async def fail() -> int:
        raise TimeoutError

    with pytest.raises(TimeoutError):
        await every.get(fail)
    assert every.value == 7  # the last value stays
    assert every.due()  # and the next poll tries again

    async def ok() -> int:
        return 8

    assert await every.get(ok) == 8


async def test_every_set_counts_as_a_read() -> None:
    clock = _Clock()
    every: Every[int] = Every(10.0, initial=0, clock=clock)
    every.set(5)
    assert every.value == 5 and not every.due() and every.age_s == 0

    async def fetch() -> int:
        raise AssertionError("not due: must not read")

    assert await every.get(fetch) == 5
    clock.now += 10
    assert every.due()


# ----------------------------------------------------------------------------- OwnConnections


class _Conn:
    def __init__(self) -> None:
        self.closed = False


def test_own_connections_track_ids_by_handle() -> None:
    own: OwnConnections[_Conn] = OwnConnections()
    a, b = _Conn(), _Conn()
    own.add(a, 101)
    own.add(b, "202")
    assert own.ids == {"101", "202"}
    assert "101" in own and 101 in own and "303" not in own
    assert own.handles() == [a, b]
    own.add(a, 111)  # re-registered: the new id replaces the old
    assert own.ids == {"111", "202"}
    own.discard(a)
    own.discard(a)  # twice is fine
    assert own.ids == {"202"}
    own.clear()
    assert own.ids == frozenset() and own.handles() == []


def test_own_connections_prune_closed() -> None:
    own: OwnConnections[_Conn] = OwnConnections()
    a, b = _Conn(), _Conn()
    own.add(a, 1)
    own.add(b, 2)
    a.closed = True
    own.prune(lambda conn: conn.closed)
    assert own.ids == {"2"}
    assert own.handles() == [b]


class _Same(_Conn):
    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return 0


def test_equal_handles_are_still_two_connections() -> None:
    # keyed by identity, not equality: two connections that compare equal stay two
    own: OwnConnections[_Same] = OwnConnections()
    a, b = _Same(), _Same()
    own.add(a, 1)
    own.add(b, 2)
    assert own.ids == {"1", "2"}
    own.discard(b)
    assert own.ids == {"1"}
