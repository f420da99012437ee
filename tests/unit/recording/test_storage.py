"""The recording file: frames round-trip to the snapshot --json document, deltas, gaps,
the retention ring, permissions and no password."""

from __future__ import annotations

import dataclasses
import itertools
import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest
import zstandard

from dbtop.analysis.rates import with_rates
from dbtop.cli.snapshot import snapshot_document
from dbtop.errors import UsageError
from dbtop.model import Session, Snapshot
from dbtop.recording import codec, delta, store
from dbtop.recording.masking import masked_url
from dbtop.recording.reader import Recording
from dbtop.recording.writer import RecordingWriter
from tests.ui.recorded import load_snapshots

SECRET = "s3cr3t-Pa55"


@pytest.fixture(scope="module")
def real() -> list[Snapshot]:
    """Two snapshots of a real PostgreSQL with a lock chain (tests/ui/data)."""
    return load_snapshots()


def timeline(base: Snapshot, count: int, *, step_s: float = 1.0) -> list[Snapshot]:
    """``count`` samples a second apart: sessions come and go, durations and counters move."""
    out = []
    for n in range(count):
        sessions = [
            dataclasses.replace(s, duration_s=(s.duration_s or 0) + n)
            for i, s in enumerate(base.sessions)
            if (i + n) % 5  # one in five leaves each sample, in turn
        ]
        if n % 3 == 0:
            sessions.append(Session(id=f"new-{n}", user="app", state="active", query="SELECT 1"))
        if n % 7 == 6:
            sessions.reverse()  # an order change is kept too
        server = dataclasses.replace(
            base.server,
            uptime_s=(base.server.uptime_s or 0) + n * step_s,
            counters={k: v + n * 10 for k, v in base.server.counters.items()},
        )
        out.append(
            dataclasses.replace(
                base,
                taken_at=base.taken_at + timedelta(seconds=n * step_s),
                monotonic=base.monotonic + n * step_s,
                server=server,
                sessions=tuple(sessions),
                rates=None,
            )
        )
    return out


def writer(path: Path, **options: object) -> RecordingWriter:
    settings: dict[str, object] = {
        "source": masked_url(f"postgresql://app:{SECRET}@db:5432/x?password={SECRET}"),
        "engine": "postgresql",
        "interval_s": 1.0,
        "keyframe_every": 5,
        **options,
    }
    return RecordingWriter(path, **settings)  # type: ignore[arg-type]


def test_a_frame_round_trips_to_the_same_json_document(real: list[Snapshot]) -> None:
    for snapshot in real:
        stored = store.unpack(store.pack(codec.snapshot_to_document(snapshot)))
        back = codec.document_to_snapshot(stored)
        raw = dataclasses.replace(snapshot, rates=None)
        assert snapshot_document(back) == snapshot_document(raw)
        # the typed parts come back as the model's own values, not as JSON
        assert back.sessions == raw.sessions
        assert back.lock_waits == raw.lock_waits
        assert back.capabilities == raw.capabilities
        assert back.server == raw.server


def test_a_delta_rebuilds_the_next_document(real: list[Snapshot]) -> None:
    docs = [codec.snapshot_to_document(s) for s in timeline(real[0], 15)]
    for before, after in itertools.pairwise(docs):
        patch = delta.make_delta(before, after)
        assert delta.apply_delta(before, patch) == after
        assert len(codec.dumps(patch)) < len(codec.dumps(after))
    # rows with no unique key are stored whole, and still rebuilt
    twins = dict(docs[0], sessions=[docs[0]["sessions"][0]] * 2)
    assert delta.apply_delta(docs[0], delta.make_delta(docs[0], twins)) == twins
    assert delta.apply_delta(twins, delta.make_delta(twins, docs[1])) == docs[1]


def test_every_sample_reads_back_with_rates_over_the_recorded_interval(
    tmp_path: Path, real: list[Snapshot]
) -> None:
    samples = timeline(real[0], 23)
    path = tmp_path / "r.dbtoprec"
    w = writer(path)
    for s in samples:
        w.append(s)
    w.close()
    with Recording(path) as rec:
        assert len(rec) == len(samples)
        # out of order, so keyframe seeks and the cache are both exercised
        for index in (22, 0, 7, 8, 3, 15, 14, 21):
            expected = with_rates(samples[index - 1], samples[index]) if index else samples[0]
            assert snapshot_document(rec.snapshot(index)) == snapshot_document(expected)
        assert rec.index_at(samples[9].taken_at + timedelta(milliseconds=500)) == 9
        assert rec.index_at(samples[0].taken_at - timedelta(seconds=1)) is None
        info = rec.info()
        assert info.samples == 23 and info.gaps == () and info.runs == 1
        assert info.first == samples[0].taken_at and info.last == samples[-1].taken_at


def test_gaps_are_marked_with_their_reason(tmp_path: Path, real: list[Snapshot]) -> None:
    samples = timeline(real[0], 12)
    path = tmp_path / "r.dbtoprec"
    w = writer(path)
    for s in samples[:3]:
        w.append(s)
    w.note_problem("connection lost: server closed the connection")
    w.append(samples[3])
    # the server restarted: its uptime went back
    w.append(
        dataclasses.replace(samples[4], server=dataclasses.replace(samples[4].server, uptime_s=1.0))
    )
    w.append(samples[9])  # nothing for 5 s
    w.close()
    w = writer(path)  # a second run of the recorder appends
    w.append(samples[11])
    w.close()
    with Recording(path) as rec:
        gaps = rec.gaps()
        reasons = [g.reason for g in gaps]
        assert reasons == [
            "connection lost: server closed the connection",
            "the server restarted (its uptime went back)",
            "no sample for 5s",
            "the recorder was not running",
        ]
        assert gaps[0].start == samples[2].taken_at and gaps[0].end == samples[3].taken_at
        assert rec.info().runs == 2
        # rates are never computed across two runs of the recorder
        assert rec.snapshot(len(rec) - 1).rates is None
        assert rec.snapshot(1).rates is not None


def test_another_server_or_another_file_is_refused(tmp_path: Path, real: list[Snapshot]) -> None:
    path = tmp_path / "r.dbtoprec"
    writer(path).close()
    with pytest.raises(UsageError, match="records another server"):
        writer(path, source="redis://other:6379")
    junk = tmp_path / "junk"
    junk.write_text("not sqlite at all " * 100)
    with pytest.raises(UsageError, match="not a dbtop recording"):
        writer(junk)
    with pytest.raises(UsageError, match="not a dbtop recording"):
        Recording(junk)


def test_keep_drops_the_oldest_chains_first(tmp_path: Path, real: list[Snapshot]) -> None:
    samples = timeline(real[0], 40)
    path = tmp_path / "r.dbtoprec"
    w = writer(path, keep_s=12.0)
    for s in samples:
        w.append(s)
    w.close()
    with Recording(path) as rec:
        first = rec.time_of(0)
        # whole chains (keyframe + deltas) go, checked at each keyframe: at most two
        # chains (here 2 x 5 samples) more than asked stay
        assert samples[-1].taken_at - first >= timedelta(seconds=12)
        assert samples[-1].taken_at - first <= timedelta(seconds=12 + 10)
        for index in range(len(rec)):
            rec.snapshot(index)  # every frame left still decodes


def test_max_size_keeps_the_file_under_the_limit(tmp_path: Path, real: list[Snapshot]) -> None:
    # incompressible session text, so that frames have weight
    base = dataclasses.replace(
        real[0],
        sessions=tuple(
            Session(id=str(i), state="active", query=os.urandom(300).hex()) for i in range(30)
        ),
    )
    path = tmp_path / "r.dbtoprec"
    limit = 256 * 1024
    w = writer(path, max_bytes=limit, keyframe_every=2)
    for n, s in enumerate(timeline(base, 120)):
        fresh = tuple(dataclasses.replace(x, query=os.urandom(300).hex()) for x in s.sessions)
        w.append(dataclasses.replace(s, sessions=fresh))
        if n > 20:
            assert path.stat().st_size <= limit * 1.1
    w.close()
    with Recording(path) as rec:
        assert 0 < len(rec) < 120
        assert rec.time_of(len(rec) - 1) == base.taken_at + timedelta(seconds=119)


def test_the_file_is_private_and_holds_no_password(tmp_path: Path, real: list[Snapshot]) -> None:
    path = tmp_path / "r.dbtoprec"
    w = writer(path)
    for s in timeline(real[0], 3):
        w.append(s)
    w.note_problem(f"cannot connect to postgresql://app:{SECRET}@db")  # an error quoting a URL
    w.append(timeline(real[0], 5)[4])
    for suffix in ("", "-wal", "-shm"):
        sidecar = Path(f"{path}{suffix}")
        if sidecar.exists():
            assert stat.S_IMODE(sidecar.stat().st_mode) == 0o600, suffix
    w.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert_no_secret(path, SECRET)


def assert_no_secret(path: Path, secret: str) -> None:
    """Neither the file's bytes nor any frame once decompressed hold ``secret``."""
    raw = path.read_bytes()
    assert secret.encode() not in raw
    import sqlite3

    db = sqlite3.connect(path)
    for (data,) in db.execute("SELECT data FROM frames"):
        assert secret.encode() not in zstandard.ZstdDecompressor().decompress(data)
    for row in db.execute("SELECT * FROM meta UNION ALL SELECT reason, '' FROM gaps"):
        assert secret not in " ".join(map(str, row))
    db.close()


def test_masked_url_drops_every_password() -> None:
    assert masked_url(f"postgresql://app:{SECRET}@db:5432/x") == "postgresql://app@db:5432/x"
    assert SECRET not in masked_url(f"mysql://root:{SECRET}@h/db?ssl=1&password={SECRET}")
    assert masked_url(f"redis://:{SECRET}@h:6379/0") == "redis://h:6379/0"
    assert masked_url(None) == "(from the environment)"


def test_the_incremental_encoder_writes_the_same_documents(real: list[Snapshot]) -> None:
    encoder = codec.Encoder()
    for snapshot in timeline(real[0], 12):
        assert encoder.document(snapshot) == codec.snapshot_to_document(snapshot)


def test_the_live_history_keeps_its_span_and_reads_back(real: list[Snapshot]) -> None:
    from dbtop.recording.memory import MemoryRing

    samples = timeline(real[0], 40)
    ring = MemoryRing(span_s=10, keyframe_every=4)
    for s in samples:
        ring.append(s)
    newest = samples[-1].taken_at.timestamp()
    # whole chains go: the span is kept, and at most one chain more
    assert newest - ring.time_of(0) >= 10
    assert newest - ring.time_of(0) < 10 + 4
    first = len(samples) - len(ring)
    for index in (len(ring) - 1, 0, 3, 2):
        expected = samples[first + index]
        if index:
            expected = with_rates(samples[first + index - 1], expected)
        assert snapshot_document(ring.snapshot(index)) == snapshot_document(expected)


def test_a_wait_profile_round_trips_through_the_file(tmp_path: Path, real: list[Snapshot]) -> None:
    """pg_wait_sampling's counts (fixed-shape rows: pid, wait or None, queryid or None,
    count) come back as the same WaitProfile, in a keyframe and in a delta, and the
    load view's figures from them are the same."""
    from dbtop.analysis import load
    from dbtop.waitprofile import WaitProfile

    samples = []
    for n, base in enumerate(timeline(real[0], 4)):
        profile = WaitProfile(
            period_ms=10.0,
            seconds=1.0,
            looks=100,
            counts=((101, "Lock:transactionid", 42 + n, 100), (102, None, None, 30 + n)),
            cpu_sampled=n % 2 == 0,
        )
        samples.append(dataclasses.replace(base, wait_profile=profile))
    path = tmp_path / "w.dbtoprec"
    w = writer(path)
    for s in samples:
        w.append(s)
    w.close()
    with Recording(path) as rec:
        for index, expected in enumerate(samples):
            back = rec.snapshot(index)
            assert back.wait_profile == expected.wait_profile
            assert load.sample(back) == load.sample(expected)
    # the UI tests' decoder too
    from tests.ui.recorded import from_jsonable

    document = snapshot_document(samples[1])
    assert from_jsonable(Snapshot, document).wait_profile == samples[1].wait_profile
