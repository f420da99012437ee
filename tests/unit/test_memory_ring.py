"""The live history keeps exactly what was appended: each sample decodes to the JSON
document of the snapshot appended, whether its rows were the previous sample's objects,
new objects equal to them, changed, gone or back, and in whatever order it is read."""

from __future__ import annotations

import dataclasses
import json
import random
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dbtop.analysis.rates import with_rates
from dbtop.cli.snapshot import snapshot_document
from dbtop.model import (
    Capabilities,
    Feature,
    Finding,
    ServerSummary,
    Session,
    Severity,
    Snapshot,
    frozen,
)
from dbtop.recording import codec, store
from dbtop.recording.memory import MemoryRing
from tests.ui.recorded import load_snapshots
from tests.unit.recording.test_storage import timeline

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
CAPABILITIES = Capabilities(features=frozenset({Feature.SESSIONS}))


def idle(pid: int, age: float, **changes: Any) -> Session:
    """An idle backend, as PostgreSQL's full read makes it: its idle age in extra."""
    fields: dict[str, Any] = {
        "id": str(pid),
        "user": "app",
        "database": "shop",
        "state": "idle",
        "is_idle": True,
        "backend_start": T0 - timedelta(hours=1),
        "extra": frozen(state_age_s=age, wait_event="ClientRead"),
    }
    fields.update(changes)
    return Session(**fields)


def sample(n: int, sessions: list[Session], **changes: Any) -> Snapshot:
    fields: dict[str, Any] = {
        "engine": "postgresql",
        "taken_at": T0 + timedelta(seconds=n),
        "monotonic": 100.0 + n,
        "server": ServerSummary(
            engine="postgresql",
            address="db:5432",
            version="18",
            uptime_s=1000.0 + n,
            counters=frozen(xact=10 * n),
        ),
        "capabilities": CAPABILITIES,
        "sessions": tuple(sessions),
    }
    fields.update(changes)
    return Snapshot(**fields)


def same(a: Any, b: Any) -> bool:
    """Equal as JSON text (1, 1.0 and true differ; the order of a mapping's keys not)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def check_every_sample(ring: MemoryRing, samples: list[Snapshot]) -> None:
    first = len(samples) - len(ring)
    forward = list(range(len(ring)))
    shuffled = forward[:]
    random.Random(7).shuffle(shuffled)
    # forward (one delta at a time), backward and at random (each a chain from its keyframe)
    for index in [*forward, *reversed(forward), *shuffled]:
        expected = codec.snapshot_to_document(samples[first + index])
        assert same(ring.document(index), expected), f"sample {index}"
    for index in (0, len(ring) // 2, len(ring) - 1):
        want = samples[first + index]
        if index:
            want = with_rates(samples[first + index - 1], want)
        assert snapshot_document(ring.snapshot(index)) == snapshot_document(want)


def tricky_samples() -> list[Snapshot]:
    """Rows kept as objects, re-made equal, changed, gone, back, reordered, duplicated."""
    a, b, c, d = idle(1, 5.0), idle(2, 7.0), idle(3, 9.0), idle(4, 11.0)
    busy = Session(id="9", user="app", state="active", query="SELECT 1", duration_s=0.5)
    b_later = idle(2, 8.0)  # a full read: a new object, only its idle age moved
    a_again = idle(1, 5.0)  # a new object equal in every field
    c_active = idle(3, 0.0, state="active", is_idle=False, query="UPDATE t SET x = 1")
    finding = Finding("idle_in_transaction", "3", "session 3 is idle", Severity.WARNING)
    return [
        sample(0, [a, b, c, d]),
        sample(1, [a, b, c, d, busy]),  # the same objects, one newcomer
        sample(2, [a, b_later, c, busy]),  # b re-read, d gone
        sample(3, [a_again, b_later, c_active, busy], findings=(finding,)),
        # b's object of two samples ago is back: it is not the previous sample's b, so
        # its age (7 s) must not be taken for unchanged against the 8 s just before
        sample(4, [a_again, b, c_active, busy]),
        sample(5, [d, a_again, b, c_active]),  # d is back first, busy gone
        sample(6, [busy, c_active, b, a_again, d]),  # the same objects, reversed
        sample(7, [busy, c_active, b, a_again, d], capabilities=CAPABILITIES),
        sample(8, [a, idle(1, 6.0), b]),  # two rows of one key: stored whole
        sample(9, [a, b, idle(4, 12.0, user=None, extra=frozen())]),
        sample(10, [a, b, idle(4, 12.0, hidden="needs pg_monitor")]),
        sample(11, [], findings=()),
        sample(12, [a, b_later]),
    ]


@pytest.mark.parametrize("keyframe_every", [1, 3, 30])
def test_every_sample_decodes_to_what_was_appended(keyframe_every: int) -> None:
    samples = tricky_samples()
    ring = MemoryRing(span_s=3600, keyframe_every=keyframe_every)
    for s in samples:
        ring.append(s)
    assert len(ring) == len(samples)
    check_every_sample(ring, samples)


def test_a_row_object_seen_before_the_previous_sample_is_compared_again() -> None:
    """The shortcut "this object was seen, so it is unchanged" holds only against the
    sample just before: an object from longer ago is not what the previous sample had."""
    old_b, new_b = idle(2, 7.0), idle(2, 8.0)
    samples = [sample(0, [old_b]), sample(1, [new_b]), sample(2, [old_b]), sample(3, [old_b])]
    ring = MemoryRing(span_s=3600, keyframe_every=30)
    for s in samples:
        ring.append(s)
    ages = [ring.document(i)["sessions"][0]["extra"]["state_age_s"] for i in range(4)]
    assert ages == [7.0, 8.0, 7.0, 7.0]


def test_idle_ages_re_read_every_few_samples_are_all_kept() -> None:
    """PostgreSQL's poll at 2,000 connections in small: the idle rows are the same objects
    between two full reads, new ones with other ages at each; the busy ones new each time."""
    rng = random.Random(3)
    idle_rows = [idle(pid, float(pid)) for pid in range(100, 160)]
    samples = []
    for n in range(40):
        if n % 5 == 0:  # a full read: every idle row again, its age moved on
            idle_rows = [
                idle(int(s.id), s.extra["state_age_s"] + 5.0)
                for s in idle_rows
                if rng.random() > 0.05  # some disconnect
            ]
        busy = [
            Session(id=str(pid), state="active", query=f"SELECT {pid}", duration_s=n / 3)
            for pid in rng.sample(range(10, 20), 4)  # in the server's order of the moment
        ]
        samples.append(sample(n, [*busy, *idle_rows]))
    ring = MemoryRing(span_s=3600, keyframe_every=7)
    for s in samples:
        ring.append(s)
    check_every_sample(ring, samples)


def test_the_recorded_server_reads_back_sample_by_sample() -> None:
    samples = timeline(load_snapshots()[0], 25)
    ring = MemoryRing(span_s=3600, keyframe_every=4)
    for s in samples:
        ring.append(s)
    check_every_sample(ring, samples)


def test_the_span_drops_whole_chains_and_what_stays_reads_back() -> None:
    samples = timeline(load_snapshots()[0], 40)
    ring = MemoryRing(span_s=10, keyframe_every=4)
    for s in samples:
        ring.append(s)
    newest = samples[-1].taken_at.timestamp()
    assert 10 <= newest - ring.time_of(0) < 10 + 4
    assert ring.dropped == len(samples) - len(ring)
    check_every_sample(ring, samples)


def compressible(rows: int) -> dict[str, Any]:
    return {"sessions": [{"id": str(n), "query": "SELECT 1", "state": "idle"} for n in range(rows)]}


def test_a_packed_frame_holds_no_more_memory_than_its_size() -> None:
    """zstd's output buffer is as big as its input: a small frame of a big document must
    not keep it (900 frames of the live history would hold 75 MB instead of 6)."""
    document = compressible(3000)
    assert len(codec.dumps(document)) > 100_000
    tracemalloc.start()
    try:
        frames = [store.pack(document) for _ in range(20)]
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(frames[0]) < 5_000
    assert held < 20 * 10_000


def test_the_live_history_holds_its_frames_compact() -> None:
    """The same for the ring's own frames: each more keyframe of 3,000 sessions holds its
    few kB, not a buffer the size of the document."""
    rows = [idle(n, 1.0) for n in range(3000)]
    ring = MemoryRing(span_s=3600, keyframe_every=1)
    tracemalloc.start()
    try:
        for n in range(20):
            ring.append(sample(n, rows))
        after_20 = tracemalloc.get_traced_memory()[0]
        for n in range(20, 40):  # 20 keyframes more of the same rows
            ring.append(sample(n, rows))
        after_40 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(ring) == 40
    assert after_40 - after_20 < 20 * 20_000


def test_an_unchanged_row_is_not_converted_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The point of the ring's shortcut: a row that is the previous sample's object costs
    no conversion (nor comparison) at all; a new object equal to it, a comparison only."""
    rows = [idle(n, 1.0) for n in range(50)]
    ring = MemoryRing(span_s=3600)
    ring.append(sample(0, rows))
    converted: list[Any] = []
    real = codec.row_to_jsonable
    monkeypatch.setattr(codec, "row_to_jsonable", lambda row: converted.append(row) or real(row))
    ring.append(sample(1, rows))
    ring.append(sample(2, [dataclasses.replace(r) for r in rows]))
    assert converted == []
    newcomer = idle(999, 1.0)
    ring.append(sample(3, [*rows, newcomer]))
    assert converted == [newcomer]
