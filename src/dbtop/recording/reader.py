"""Reading a recording: its time line, and the snapshot at any moment of it.

Opening reads only the time line (sequence number, time and run of every frame: one small
indexed query, ~0.1 s for a day at one sample a second), so the first frame of a 24-hour
recording is on screen at once. A frame is decoded from the keyframe of its chain forward;
decoded documents are cached, so stepping one sample forward applies one delta.

Rates are computed as the live poller computes them (analysis.rates.with_rates), between a
sample and the one before it, when both come from the same run of the recorder (another
run's monotonic clock is not comparable).
"""

from __future__ import annotations

import bisect
import sqlite3
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dbtop.analysis.rates import with_rates
from dbtop.errors import DbtopError
from dbtop.model import Snapshot
from dbtop.recording import codec, delta, store

#: decoded documents kept (two chains at the default keyframe interval)
CACHE_SIZE = 128


@dataclass(frozen=True, slots=True)
class Gap:
    start: datetime
    end: datetime
    reason: str

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True, slots=True)
class RecordingInfo:
    path: Path
    version: int
    source: str
    engine: str
    address: str | None
    server_version: str | None
    first: datetime | None
    last: datetime | None
    samples: int
    runs: int
    interval_s: float | None
    size_bytes: int
    gaps: tuple[Gap, ...]


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class Recording:
    """A recording opened read-only (it may still be growing: :meth:`reload`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = store.open_for_reading(path)
        self.meta = store.read_meta(self._db)
        self._seqs: list[int] = []
        self.times: list[float] = []
        self._runs: list[int] = []
        self._cache: OrderedDict[int, dict[str, Any]] = OrderedDict()
        #: the row keys of each cached document's sections (delta.apply_delta_keyed)
        self._keys: dict[int, dict[str, Any]] = {}
        self.reload()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def reload(self) -> int:
        """Read the frames written since the last look (and forget dropped ones); how
        many samples there are now."""
        try:
            rows = self._db.execute("SELECT seq, at, run FROM frames ORDER BY seq").fetchall()
        except sqlite3.Error as exc:
            raise DbtopError(f"cannot read the recording {self.path}: {exc}") from None
        if rows:
            seqs, times, runs = zip(*rows, strict=True)
            self._seqs, self.times, self._runs = list(seqs), list(times), list(runs)
        else:
            self._seqs, self.times, self._runs = [], [], []
        return len(rows)

    def __len__(self) -> int:
        return len(self._seqs)

    # -- the time line ------------------------------------------------------------------

    def time_of(self, index: int) -> datetime:
        return _at(self.times[index])

    def index_at(self, moment: datetime) -> int | None:
        """The sample at or just before ``moment``; None before the first."""
        position = bisect.bisect_right(self.times, moment.timestamp()) - 1
        return position if position >= 0 else None

    def interval_s(self) -> float | None:
        """The longest sampling interval of the recorder's runs."""
        found = self._db.execute("SELECT max(interval_s) FROM runs").fetchone()[0]
        return None if found is None else float(found)

    def gaps(self) -> tuple[Gap, ...]:
        rows = self._db.execute(
            "SELECT start_at, end_at, reason FROM gaps ORDER BY start_at"
        ).fetchall()
        return tuple(Gap(_at(s), _at(e), r) for s, e, r in rows)

    def info(self) -> RecordingInfo:
        server: dict[str, Any] = {}
        if self._seqs:
            server = self.document(len(self._seqs) - 1).get("server") or {}
        runs = self._db.execute("SELECT count(*), max(interval_s) FROM runs").fetchone()
        size = sum(p.stat().st_size for p in (self.path, Path(f"{self.path}-wal")) if p.exists())
        return RecordingInfo(
            path=self.path,
            version=int(self.meta.get("version", "0")),
            source=self.meta.get("source", "?"),
            engine=self.meta.get("engine", "?"),
            address=server.get("address"),
            server_version=server.get("version"),
            first=self.time_of(0) if self._seqs else None,
            last=self.time_of(len(self._seqs) - 1) if self._seqs else None,
            samples=len(self._seqs),
            runs=int(runs[0] or 0),
            interval_s=runs[1],
            size_bytes=size,
            gaps=self.gaps(),
        )

    # -- frames -------------------------------------------------------------------------

    def document(self, index: int) -> dict[str, Any]:
        """The snapshot document (``to_jsonable`` form, no rates) of sample ``index``."""
        seq = self._seqs[index]
        cached = self._cache.get(seq)
        if cached is not None:
            self._cache.move_to_end(seq)
            return cached
        previous = self._cache.get(seq - 1)
        row = self._db.execute(
            "SELECT keyframe, base, data FROM frames WHERE seq = ?", (seq,)
        ).fetchone()
        if row is None:
            raise DbtopError(f"{self.path}: sample {seq} was dropped by retention; reopen it")
        keyframe, base, data = row
        if keyframe:
            document = store.unpack(data)
        elif previous is not None:
            document, keys = delta.apply_delta_keyed(
                previous, store.unpack(data), self._keys.get(seq - 1, {})
            )
            self._keys[seq] = keys
        else:
            document = self._roll_forward(base, seq)
        self._remember(seq, document)
        return document

    def _roll_forward(self, base: int, seq: int) -> dict[str, Any]:
        document: dict[str, Any] = {}
        keys: dict[str, Any] = {}
        rows = self._db.execute(
            "SELECT seq, keyframe, data FROM frames WHERE seq BETWEEN ? AND ? ORDER BY seq",
            (base, seq),
        )
        for number, keyframe, data in rows:
            payload = store.unpack(data)
            if keyframe:
                document, keys = payload, {}
            else:
                document, keys = delta.apply_delta_keyed(document, payload, keys)
            self._remember(number, document)
            self._keys[number] = keys
        return document

    def _remember(self, seq: int, document: dict[str, Any]) -> None:
        self._cache[seq] = document
        self._cache.move_to_end(seq)
        while len(self._cache) > CACHE_SIZE:
            gone, _ = self._cache.popitem(last=False)
            self._keys.pop(gone, None)

    def raw_snapshot(self, index: int) -> Snapshot:
        """Sample ``index`` as recorded (no rates)."""
        return codec.document_to_snapshot(self.document(index))

    def snapshot(self, index: int) -> Snapshot:
        """Sample ``index`` with its rates over the recorded interval before it."""
        current = self.raw_snapshot(index)
        if index == 0 or self._runs[index - 1] != self._runs[index]:
            return current
        return with_rates(self.raw_snapshot(index - 1), current)
