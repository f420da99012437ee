"""Database load: average active sessions over time, by what they wait on, and who makes it.

The measure of AWS Performance Insights and Oracle ASH: at each sample, every session
doing something counts 1, in the class of what it is doing (on CPU, or waiting for a
lock, I/O, an internal latch, the client, something else); averaged over a window, it is
the average number of active sessions (AAS), and sliced by statement, user, application
and database it says who makes the load. Each engine's own words are mapped to the
classes (:func:`wait_class`):

- PostgreSQL: ``wait_event_type`` (Session.wait is ``Type:Event``): Lock and BufferPin are
  lock, LWLock is LWLock/latch, IO is I/O, Client is client, no wait is CPU, the rest
  (IPC, Timeout, Extension, Activity) other;
- MySQL / MariaDB: the processlist state and InnoDB's row-lock wait: "Waiting for … lock"
  and row locks are lock, "… to net" / "Reading from net" client, states that read or
  write files (``… handler commit``, ``… to disk``, ``Opening tables``) I/O, other
  "Waiting for …" other, the rest CPU;
- MongoDB: ``waitingForLock`` is lock, else CPU (an operation the server runs);
- Redis runs one command at a time: its load is the CPU time per second of each command
  from INFO commandstats (``usec`` deltas), all of it CPU, sliced by command; it has no
  sessions that wait on the server.

Sampling: a session is seen only at the instant of a sample, so a class that takes less
than the interval shows up in proportion to how often it is caught. Over many samples the
average is right; one sample of a short burst says little (the figure is a statistic, and
the view says over how many samples it is computed).

Two sources of samples (:attr:`LoadSample.source`):

- ``poll``: dbtop's own look at the sessions, once per poll (every 2 s by default). A wait
  shorter than the interval is seen only when a poll happens to fall on it;
- ``pg_wait_sampling`` (PostgreSQL with the extension preloaded): the server's collector
  looks at every backend every ``profile_period`` (10 ms by default, 100 looks a second),
  and the snapshot carries the counts gained since the previous poll
  (``Snapshot.wait_profile``). A backend's count divided by the number of looks is the
  share of the interval it spent in that state, so the sum is the interval's average
  active sessions, and waits of a few tens of milliseconds are counted, not caught by
  chance. pg_wait_sampling before 1.1.5 does not sample a backend on CPU: the CPU class
  is then the poll's own look (the waits stay the collector's). Slices: statements by
  queryid (its pg_stat_statements text when the poll has it), users, applications and
  databases by the pid's session at the poll (a backend gone by then shows as "-").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from dbtop.analysis.sessions import counts_as_active
from dbtop.model import Session, Snapshot, frozen
from dbtop.waitprofile import WaitProfile

CPU = "CPU"
LOCK = "Lock"
LATCH = "LWLock/latch"
IO = "I/O"
CLIENT = "Client"
OTHER = "Other"
#: in the order they are stacked (bottom first)
WAIT_CLASSES: tuple[str, ...] = (CPU, LOCK, LATCH, IO, CLIENT, OTHER)
#: the slices of the load, in the order the view lists them
DIMENSIONS: tuple[str, ...] = ("statement", "user", "application", "database")
#: where a sample's figures come from
POLL = "poll"
WAIT_SAMPLING = "pg_wait_sampling"

_PG_TYPES = {
    "lock": LOCK,
    "bufferpin": LOCK,
    "lwlock": LATCH,
    "io": IO,
    "client": CLIENT,
}
_MYSQL_IO = (
    "handler commit",
    "to disk",
    "opening tables",
    "reading file",
    "writing file",
    "creating tmp table",
    "copy to tmp table",
    "flush",
)
STATEMENT_WIDTH = 160


def wait_class(engine: str, session: Session) -> str:
    """The class of what an active ``session`` is doing, in ``engine``'s terms."""
    wait = (session.wait or "").strip()
    if engine == "postgresql":
        return pg_wait_class(wait)
    if engine in ("mysql", "mariadb"):
        text = f"{wait} {session.state or ''}".casefold()
        if session.waiting_on_lock or ("lock" in text and "waiting" in text):
            return LOCK
        if "net" in text or "sending to client" in text:
            return CLIENT
        if any(word in text for word in _MYSQL_IO):
            return IO
        if "waiting" in text:
            return OTHER
        return CPU
    if engine == "mongodb":
        if session.waiting_on_lock or wait.casefold().startswith("lock"):
            return LOCK
        return CPU
    if session.waiting_on_lock:
        return LOCK
    return CPU if not wait else OTHER


def pg_wait_class(wait: str | None) -> str:
    """PostgreSQL's ``wait_event_type`` (``Type:Event``) as a class; no wait is CPU."""
    wait = (wait or "").strip()
    if not wait:
        return CPU
    return _PG_TYPES.get(wait.split(":", 1)[0].casefold(), OTHER)


def statement_label(query: str | None) -> str:
    """A statement's text on one line, cut: the key its load is summed under."""
    text = " ".join((query or "").split())
    return text[:STATEMENT_WIDTH] if text else "(no statement)"


@dataclass(frozen=True, slots=True)
class LoadSample:
    """One sample's load: by class, and by (dimension, name) then class."""

    at: float
    by_class: Mapping[str, float] = field(default_factory=frozen)
    slices: Mapping[tuple[str, str], Mapping[str, float]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    #: POLL or WAIT_SAMPLING
    source: str = POLL
    #: the looks at each session behind it: 1 for a poll, the collector's for a profile
    looks: float = 1.0
    #: the collector's period, milliseconds (WAIT_SAMPLING only)
    period_ms: float | None = None
    #: WAIT_SAMPLING whose CPU class is the poll's look (the collector samples waits only)
    cpu_by_poll: bool = False

    @property
    def total(self) -> float:
        return sum(self.by_class.values())


def _add(
    slices: dict[tuple[str, str], dict[str, float]], key: tuple[str, str], klass: str, amount: float
) -> None:
    slices.setdefault(key, defaultdict(float))[klass] += amount


def sample(snapshot: Snapshot) -> LoadSample:
    """The load one snapshot shows: pg_wait_sampling's samples since the previous poll
    when it has them, else its active sessions (Redis: CPU per command)."""
    profile = snapshot.wait_profile
    if profile is not None and profile.sampler_looks > 0:
        return profile_sample(snapshot, profile)
    by_class: dict[str, float] = defaultdict(float)
    slices: dict[tuple[str, str], dict[str, float]] = {}
    at = snapshot.taken_at.timestamp()
    if snapshot.engine == "redis":
        rates = snapshot.rates.statements if snapshot.rates else {}
        for statement in snapshot.statements:
            rate = rates.get(statement.id)
            if rate is None or rate.total_ms_s <= 0:
                continue
            busy = rate.total_ms_s / 1000.0  # seconds of CPU per second
            by_class[CPU] += busy
            _add(slices, ("statement", statement_label(statement.query)), CPU, busy)
    else:
        for session in snapshot.sessions:
            if not counts_as_active(session):
                continue
            klass = wait_class(snapshot.engine, session)
            by_class[klass] += 1
            _add(slices, ("statement", statement_label(session.query)), klass, 1)
            _add(slices, ("user", session.user or "-"), klass, 1)
            _add(slices, ("application", session.application or "-"), klass, 1)
            _add(slices, ("database", session.database or "-"), klass, 1)
    return LoadSample(
        at,
        frozen(dict(by_class)),
        MappingProxyType({key: frozen(dict(value)) for key, value in slices.items()}),
    )


def profile_sample(snapshot: Snapshot, profile: WaitProfile) -> LoadSample:
    """Average active sessions over the poll's interval from pg_wait_sampling's counts."""
    looks = profile.sampler_looks
    by_class: dict[str, float] = defaultdict(float)
    slices: dict[tuple[str, str], dict[str, float]] = {}
    sessions = {s.id: s for s in snapshot.sessions} if profile.per_pid else {}
    texts: dict[int, str] = {}
    for statement in snapshot.statements:
        queryid = statement.extra.get("queryid")
        if isinstance(queryid, int) and queryid not in texts:
            texts[queryid] = statement.query
    for pid, wait, queryid, count in profile.counts:
        klass = pg_wait_class(wait)
        amount = count / looks
        session = sessions.get(str(pid))
        by_class[klass] += amount
        _add(slices, ("statement", _profile_statement(queryid, session, texts)), klass, amount)
        _add(slices, ("user", (session.user if session else None) or "-"), klass, amount)
        application = (session.application if session else None) or "-"
        _add(slices, ("application", application), klass, amount)
        _add(slices, ("database", (session.database if session else None) or "-"), klass, amount)
    if not profile.cpu_sampled:
        # this pg_wait_sampling counts waits only: CPU is what the poll's look saw
        for session in snapshot.sessions:
            if counts_as_active(session) and pg_wait_class(session.wait) == CPU:
                by_class[CPU] += 1
                _add(slices, ("statement", statement_label(session.query)), CPU, 1)
                _add(slices, ("user", session.user or "-"), CPU, 1)
                _add(slices, ("application", session.application or "-"), CPU, 1)
                _add(slices, ("database", session.database or "-"), CPU, 1)
    return LoadSample(
        snapshot.taken_at.timestamp(),
        frozen(dict(by_class)),
        MappingProxyType({key: frozen(dict(value)) for key, value in slices.items()}),
        source=WAIT_SAMPLING,
        looks=looks,
        period_ms=profile.period_ms,
        cpu_by_poll=not profile.cpu_sampled,
    )


def _profile_statement(
    queryid: int | None, session: Session | None, texts: Mapping[int, str]
) -> str:
    if queryid is not None and queryid in texts:
        return statement_label(texts[queryid])
    if session is not None and (queryid is None or session.extra.get("query_id") == queryid):
        return statement_label(session.query)  # the statement it runs at the poll
    return f"queryid {queryid}" if queryid is not None else statement_label(None)


@dataclass(frozen=True, slots=True)
class LoadSlice:
    dimension: str
    name: str
    #: average active sessions over the window
    aas: float
    by_class: Mapping[str, float]
    #: of the window's whole load
    share: float

    @property
    def main_class(self) -> str:
        return max(self.by_class.items(), key=lambda kv: kv[1])[0] if self.by_class else OTHER


@dataclass(frozen=True, slots=True)
class LoadWindow:
    samples: int
    seconds: float
    #: average active sessions by class over the window
    by_class: Mapping[str, float]
    top: tuple[LoadSlice, ...]
    #: how many of the samples come from each source (POLL, WAIT_SAMPLING)
    sources: Mapping[str, int] = field(default_factory=frozen)
    #: the looks at each session all of them stand on (a poll is one look)
    looks: float = 0.0
    #: pg_wait_sampling's period, milliseconds, when some samples come from it
    period_ms: float | None = None
    #: some of them take CPU from the poll's look (pg_wait_sampling before 1.1.5)
    cpu_by_poll: bool = False

    @property
    def source(self) -> str:
        """The source of most samples."""
        if not self.sources:
            return POLL
        return max(self.sources.items(), key=lambda kv: kv[1])[0]

    @property
    def aas(self) -> float:
        return sum(self.by_class.values())


def window(samples: Sequence[LoadSample], *, top: int = 10) -> LoadWindow:
    """Averages over ``samples``, and the ``top`` slices of each dimension by load."""
    count = len(samples)
    if not count:
        return LoadWindow(0, 0.0, frozen(), ())
    by_class: dict[str, float] = defaultdict(float)
    slices: dict[tuple[str, str], dict[str, float]] = {}
    for item in samples:
        for klass, amount in item.by_class.items():
            by_class[klass] += amount
        for key, classes in item.slices.items():
            into = slices.setdefault(key, defaultdict(float))
            for klass, amount in classes.items():
                into[klass] += amount
    total = sum(by_class.values()) or 1.0
    ranked: list[LoadSlice] = []
    for dimension in DIMENSIONS:
        mine = [(name, classes) for (dim, name), classes in slices.items() if dim == dimension]
        mine.sort(key=lambda item: -sum(item[1].values()))
        for name, classes in mine[:top]:
            amount = sum(classes.values())
            ranked.append(
                LoadSlice(
                    dimension,
                    name,
                    amount / count,
                    frozen({k: v / count for k, v in classes.items()}),
                    amount / total,
                )
            )
    sources: dict[str, int] = defaultdict(int)
    for item in samples:
        sources[item.source] += 1
    periods = [s.period_ms for s in samples if s.period_ms]
    return LoadWindow(
        count,
        samples[-1].at - samples[0].at,
        frozen({k: v / count for k, v in by_class.items()}),
        tuple(ranked),
        sources=frozen(dict(sources)),
        looks=sum(s.looks for s in samples),
        period_ms=periods[-1] if periods else None,
        cpu_by_poll=any(s.cpu_by_poll for s in samples),
    )


def series(samples: Iterable[LoadSample]) -> dict[str, list[float]]:
    """Per class, the load of each sample in order (the stacked chart's bars)."""
    listed = list(samples)
    return {klass: [s.by_class.get(klass, 0.0) for s in listed] for klass in WAIT_CLASSES}


def accuracy_note(window: LoadWindow, poll_interval_s: float, unavailable: str | None) -> str:
    """Which source the window's figures come from and what its sampling means for them.

    ``poll_interval_s`` is the spacing of dbtop's polls; ``unavailable`` why
    pg_wait_sampling is not used (PostgreSQL only; None elsewhere)."""
    profiled = window.sources.get(WAIT_SAMPLING, 0)
    if profiled and window.period_ms:
        per_second = 1000.0 / window.period_ms
        note = (
            f"pg_wait_sampling every {window.period_ms:g} ms: {per_second:g} samples per "
            "second of each session (a wait of a few tens of ms is counted, not caught by "
            "chance)"
        )
        if window.cpu_by_poll:
            note += (
                f"; CPU from one look per poll every {poll_interval_s:g} s (this "
                "pg_wait_sampling samples waits only; 1.1.5 adds sample_cpu)"
            )
        if profiled < window.samples:
            note += f"; {window.samples - profiled} of {window.samples} polls had no profile"
        return note
    note = (
        f"one look per poll every {poll_interval_s:g} s: a wait shorter than that is seen "
        "by chance (the average is right over many polls)"
    )
    if unavailable:
        note += f"; {unavailable}"
    return note
