"""The live TUI's history: the last minutes of snapshots, kept as compact frames.

Keeping every PollResult would hold thousands of Session objects per poll for 15 minutes
(hundreds of MB on a server with 2,000 connections). The frames are the recording's own
(``codec``, ``delta``, zstd): a keyframe every ``keyframe_every`` samples, deltas between,
so a quiet server's 15 minutes cost a few hundred kB, and a moment is decoded only when
the user scrubs to it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dbtop.analysis.rates import with_rates
from dbtop.model import Snapshot
from dbtop.recording import codec, delta, store

#: the live history's default span
HISTORY_S = 15 * 60.0
KEYFRAME_EVERY = 30


@dataclass(frozen=True, slots=True)
class _Frame:
    at: float
    keyframe: bool
    data: bytes


class MemoryRing:
    """Snapshots of the last ``span_s`` seconds, oldest dropped first (a chain at a time)."""

    def __init__(self, span_s: float = HISTORY_S, keyframe_every: int = KEYFRAME_EVERY) -> None:
        self.span_s = span_s
        self.keyframe_every = max(keyframe_every, 1)
        self._frames: deque[_Frame] = deque()
        self._previous: dict[str, Any] | None = None
        self._chain = 0
        #: how many frames were dropped from the front since the start
        self.dropped = 0
        self._cache: tuple[int, dict[str, Any]] | None = None
        self._encoder = codec.Encoder()

    def __len__(self) -> int:
        return len(self._frames)

    def append(self, snapshot: Snapshot) -> None:
        keys_before = dict(self._encoder.keys)
        document = self._encoder.document(snapshot)
        keyframe = self._previous is None or self._chain >= self.keyframe_every
        payload = (
            document
            if keyframe
            else delta.make_delta(self._previous or {}, document, keys_before, self._encoder.keys)
        )
        self._frames.append(_Frame(snapshot.taken_at.timestamp(), keyframe, store.pack(payload)))
        self._chain = 1 if keyframe else self._chain + 1
        self._previous = document
        self._trim()

    def _trim(self) -> None:
        newest = self._frames[-1].at
        # drop whole chains whose next chain already starts inside the span
        while self._frames[0].at < newest - self.span_s:
            starts = [i for i, f in enumerate(self._frames) if f.keyframe]
            if len(starts) < 2 or self._frames[starts[1]].at > newest - self.span_s:
                return
            for _ in range(starts[1]):
                self._frames.popleft()
                self.dropped += 1
            self._cache = None

    def time_of(self, index: int) -> float:
        return self._frames[index].at

    @property
    def times(self) -> list[float]:
        return [f.at for f in self._frames]

    def document(self, index: int) -> dict[str, Any]:
        cached = self._cache
        if cached is not None and cached[0] == index:
            return cached[1]
        start = index
        if cached is not None and cached[0] == index - 1 and not self._frames[index].keyframe:
            document = delta.apply_delta(cached[1], store.unpack(self._frames[index].data))
        else:
            while not self._frames[start].keyframe:
                start -= 1
            document = {}
            for n in range(start, index + 1):
                payload = store.unpack(self._frames[n].data)
                document = (
                    payload if self._frames[n].keyframe else delta.apply_delta(document, payload)
                )
        self._cache = (index, document)
        return document

    def snapshot(self, index: int) -> Snapshot:
        """Sample ``index`` with its rates from the one before (as the poller had them)."""
        if index == 0:
            return codec.document_to_snapshot(self.document(0))
        before = codec.document_to_snapshot(self.document(index - 1))  # then one delta on
        return with_rates(before, codec.document_to_snapshot(self.document(index)))

    def moment(self, index: int) -> datetime:
        return datetime.fromtimestamp(self._frames[index].at, UTC)
