"""Appending to a recording: keyframes and deltas, gaps, the retention ring.

A keyframe holds a whole snapshot document, a delta only what changed since the frame
before (``delta.make_delta``); a chain is one keyframe and the deltas after it, and a
chain is what retention drops, oldest first, so every frame left can still be decoded.
A new chain starts when the deltas since its keyframe weigh ``KEYFRAME_WEIGHT`` keyframes
(a busy server: every minute or so; an idle one: rarely), after ``keyframe_every`` frames
at the most, at every new run of the recorder and after every gap, so reading a moment
never decodes more than one chain.

A gap is written when the next sample arrives: the poller said something went wrong in
between (a lost connection, a poll that failed), the server's uptime went backwards (a
restart), or simply no sample came for longer than ``gap_after_s``.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path
from typing import Any

from dbtop import __version__
from dbtop.errors import DbtopError, UsageError
from dbtop.model import Snapshot
from dbtop.recording import codec, delta, store
from dbtop.recording.masking import redact

#: the longest chain: a seek decodes at most this many frames (10 minutes at 1 s)
KEYFRAME_EVERY = 600
#: a chain ends when its deltas weigh this many keyframes: more keyframes cost file size,
#: fewer cost decoding on a seek
KEYFRAME_WEIGHT = 8


class RecordingWriter:
    def __init__(
        self,
        path: Path,
        *,
        source: str,
        engine: str,
        interval_s: float,
        keep_s: float | None = None,
        max_bytes: int | None = None,
        keyframe_every: int = KEYFRAME_EVERY,
    ) -> None:
        """``source`` is the masked URL (recording.masking): it is stored as given."""
        self.path = path
        self.interval_s = interval_s
        self.keep_s = keep_s
        self.max_bytes = max_bytes
        self.keyframe_every = max(keyframe_every, 1)
        #: no sample for this long is a gap even when nothing was reported
        self.gap_after_s = max(2 * interval_s, interval_s + 2)
        self._previous: dict[str, Any] | None = None
        self._chain_length = 0
        # retention is checked at every keyframe: a chain is the unit it drops
        #: the keyframe the current chain builds on, its size and its deltas' since
        self._base = 0
        self._keyframe_bytes = 0
        self._chain_bytes = 0
        self._problem: str | None = None
        self._previous_uptime: float | None = None
        self.frames_written = 0
        self._encoder = codec.Encoder()
        try:
            self._db = store.open_for_writing(path)
            self._begin(source, engine, interval_s)
        except sqlite3.Error as exc:
            raise DbtopError(f"cannot write the recording {path}: {exc}") from None

    def _begin(self, source: str, engine: str, interval_s: float) -> None:
        db = self._db
        meta = store.read_meta(db)
        if meta:
            if meta.get("source") != source:
                raise UsageError(
                    f"{self.path} records another server ({meta.get('source')}); "
                    "choose another --output"
                )
        else:
            now = time.time()
            rows = {
                "format": store.FORMAT_NAME,
                "version": str(store.FORMAT_VERSION),
                "created_at": f"{now:.6f}",
                "dbtop_version": __version__,
                "source": source,
                "engine": engine,
                "keyframe_every": str(self.keyframe_every),
                "compression": "zstd",
            }
            db.executemany("INSERT INTO meta VALUES (?, ?)", rows.items())
        cursor = db.execute(
            "INSERT INTO runs (started_at, interval_s, source, dbtop_version) VALUES (?, ?, ?, ?)",
            (time.time(), interval_s, source, __version__),
        )
        self.run_id = int(cursor.lastrowid or 0)
        last = db.execute("SELECT max(at) FROM frames").fetchone()[0]
        self._last_at: float | None = None if last is None else float(last)
        if self._last_at is not None:
            self._problem = "the recorder was not running"

    # -- what the poller tells -------------------------------------------------------

    def note_problem(self, message: str) -> None:
        """Something went wrong between samples; the first reason of a gap is kept."""
        if self._problem is None:
            self._problem = redact(message)

    def append(self, snapshot: Snapshot) -> None:
        at = snapshot.taken_at.timestamp()
        keys_before = dict(self._encoder.keys)
        document = self._encoder.document(snapshot)
        reason = self._gap_reason(snapshot, at)
        try:
            with self._db:
                self._db.execute("BEGIN")
                if reason is not None and self._last_at is not None:
                    self._db.execute(
                        "INSERT INTO gaps (start_at, end_at, reason) VALUES (?, ?, ?)",
                        (self._last_at, at, reason),
                    )
                    self._previous = None  # a new chain after a gap
                keyframe = (
                    self._previous is None
                    or self._chain_length >= self.keyframe_every
                    or self._chain_bytes >= KEYFRAME_WEIGHT * self._keyframe_bytes
                )
                payload = (
                    document
                    if keyframe
                    else delta.make_delta(
                        self._previous or {}, document, keys_before, self._encoder.keys
                    )
                )
                data = store.pack(payload)
                seq = self._next_seq()
                base = seq if keyframe else self._base
                self._db.execute(
                    "INSERT INTO frames (seq, at, run, keyframe, base, size, data) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (seq, at, self.run_id, int(keyframe), base, len(data), data),
                )
            if keyframe:
                self._base = seq
                self._chain_length = 0
                self._chain_bytes = 0
                self._keyframe_bytes = len(data)
                self.enforce_retention(at)
            else:
                self._chain_bytes += len(data)
        except sqlite3.Error as exc:
            raise DbtopError(f"cannot write the recording {self.path}: {exc}") from None
        self._chain_length += 1
        self._previous = document
        self._last_at = at
        self._problem = None
        self._previous_uptime = snapshot.server.uptime_s
        self.frames_written += 1

    def _next_seq(self) -> int:
        last = self._db.execute("SELECT max(seq) FROM frames").fetchone()[0]
        return 1 if last is None else int(last) + 1

    def _gap_reason(self, snapshot: Snapshot, at: float) -> str | None:
        reasons: list[str] = []
        if self._problem is not None:
            reasons.append(self._problem)
        uptime, before = snapshot.server.uptime_s, self._previous_uptime
        if uptime is not None and before is not None and uptime + 1 < before:
            reasons.append("the server restarted (its uptime went back)")
        if not reasons and self._last_at is not None and at - self._last_at > self.gap_after_s:
            reasons.append(f"no sample for {at - self._last_at:.0f}s")
        return "; ".join(reasons) if reasons else None

    # -- retention --------------------------------------------------------------------

    def enforce_retention(self, newest_at: float | None = None) -> int:
        """Drop the oldest chains beyond ``keep_s`` and ``max_bytes``; frames dropped."""
        db = self._db
        dropped = 0
        with db:
            db.execute("BEGIN")
            if self.keep_s is not None and newest_at is not None:
                cutoff = newest_at - self.keep_s
                # a chain goes when its newest frame is older than the cutoff
                keep_from = db.execute(
                    "SELECT min(base) FROM frames WHERE at >= ?", (cutoff,)
                ).fetchone()[0]
                if keep_from is not None:
                    # chains are runs of seq: what is before a keyframe is whole chains
                    dropped += db.execute("DELETE FROM frames WHERE seq < ?", (keep_from,)).rowcount
            if self.max_bytes is not None:
                dropped += self._drop_for_size()
            if dropped:
                first = db.execute("SELECT min(at) FROM frames").fetchone()[0]
                if first is not None:
                    db.execute("DELETE FROM gaps WHERE end_at <= ?", (first,))
        if dropped:
            db.execute("PRAGMA incremental_vacuum")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return dropped

    def _drop_for_size(self) -> int:
        db = self._db
        assert self.max_bytes is not None
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        used_pages = (
            db.execute("PRAGMA page_count").fetchone()[0]
            - db.execute("PRAGMA freelist_count").fetchone()[0]
        )
        used = used_pages * page_size
        if used <= self.max_bytes:
            return 0
        chains = db.execute(
            "SELECT base, sum(size) FROM frames GROUP BY base ORDER BY base"
        ).fetchall()
        data = sum(size for _, size in chains) or 1
        # the file holds more than the frames (pages, index): scale by what it holds now
        ratio = used / data
        budget = self.max_bytes / ratio
        total = data
        drop_before = None
        for base, size in chains[:-1]:  # the newest chain always stays
            if total <= budget:
                break
            total -= size
            drop_before = base
        if drop_before is None:
            return 0
        kept = db.execute("SELECT min(seq) FROM frames WHERE base > ?", (drop_before,))
        first_kept = kept.fetchone()[0]
        if first_kept is None:
            return 0
        return int(db.execute("DELETE FROM frames WHERE seq < ?", (first_kept,)).rowcount)

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.close()
