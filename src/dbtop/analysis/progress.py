"""Progress of long commands: percent from the server's counters, time left from the rate
between two polls (pure; the engine keeps the previous observation)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from dbtop.model import Session
from dbtop.progress import Progress


@dataclass(frozen=True, slots=True)
class Observation:
    """One poll's figures for a command, kept by the engine until the next poll."""

    progress: Progress
    at: float


def percent(done: float | None, total: float | None) -> float | None:
    if done is None or total is None or total <= 0:
        return None
    return max(0.0, min(100.0, 100.0 * done / total))


def build(
    command: str,
    phase: str | None,
    done: float | None,
    total: float | None,
    unit: str | None = None,
    *,
    server_percent: float | None = None,
) -> Progress:
    """A Progress with ``percent`` from done/total, else the server's own percent."""
    total = total if total and total > 0 else None
    pct = percent(done, total)
    if pct is None and server_percent is not None:
        pct = max(0.0, min(100.0, float(server_percent)))
    return Progress(command, phase, done, total, pct, None, unit)


def with_eta(current: Progress, now: float, previous: Observation | None) -> Progress:
    """``current`` with the time left in its phase at the rate since ``previous``.

    Only the same command in the same phase counts (a CREATE INDEX's phases count blocks
    then tuples, each from zero); no movement, or no total, gives no estimate rather than
    an infinite one.
    """
    if previous is None or now <= previous.at:
        return current
    before = previous.progress
    if before.command != current.command or before.phase != current.phase:
        return current
    if current.percent is None or before.percent is None:
        return current
    moved = current.percent - before.percent
    if moved <= 0:
        return current
    rate = moved / (now - previous.at)
    return replace(current, eta_s=round((100.0 - current.percent) / rate, 1))


class Tracker:
    """The previous observation of each session's command, for :func:`with_eta`.

    Kept by the engine between polls; sessions that are gone are forgotten."""

    def __init__(self) -> None:
        self._seen: dict[str, Observation] = {}

    def update(self, found: dict[str, Progress], now: float) -> dict[str, Progress]:
        estimated = {sid: with_eta(p, now, self._seen.get(sid)) for sid, p in found.items()}
        kept: dict[str, Observation] = {}
        for sid, progress in found.items():
            old = self._seen.get(sid)
            same = old is not None and (old.progress.command, old.progress.phase) == (
                progress.command,
                progress.phase,
            )
            # Keep the first observation of a phase while nothing moves, so a slow phase
            # still gets a rate once it does.
            if same and old is not None and old.progress.percent == progress.percent:
                kept[sid] = old
            else:
                kept[sid] = Observation(progress, now)
        self._seen = kept
        return estimated


def attach(
    sessions: tuple[Session, ...], found: dict[str, Progress], tracker: Tracker, now: float
) -> tuple[Session, ...]:
    """The sessions with their command's progress (by session id), and the time left from
    the previous poll's observation."""
    estimated = tracker.update(found, now)
    if not estimated:
        return sessions
    return tuple(replace(s, progress=estimated[s.id]) if s.id in estimated else s for s in sessions)
