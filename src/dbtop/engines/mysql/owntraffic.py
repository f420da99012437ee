"""dbtop's own work on MySQL / MariaDB, kept out of every figure it shows.

**Status counters.** SHOW GLOBAL STATUS sums every thread's counters, dbtop's connections
included: on an idle server the header's QPS would be dbtop's own polling. The same
counters exist per connection (SHOW SESSION STATUS), so after each poll's global read
dbtop reads its own connections' (monitor, and the action connection when one is open)
and ``OwnLedger`` adds up what they did: a connection seen again adds its growth, a new
one all of its counters (it was opened since the last poll). The global figures are
shown less that total. Read in the same order every poll, the difference is exact over
any interval: the session read that counts itself is in both ends. Only counters that
MySQL keeps per session are subtracted (``SESSION_COUNTERS``; InnoDB's are server-wide
only, and dbtop's reads of performance_schema and information_schema touch no InnoDB
rows). ``Threads_running`` counts the monitor thread running SHOW GLOBAL STATUS: 1 less.
Two corrections, measured on MariaDB 10.11 (tests/integration/mysql/test_own_traffic.py):
a connection's first session read counts itself in Questions / Queries but ran after the
global read, so it adds one less; and a SHOW … STATUS statement's own temporary table
(Created_tmp_tables, Select_scan, and a Handler_read_rnd_next per row returned, plus one)
reaches the global counters but no session's, so each one dbtop runs is added by count.

**Statement digests.** performance_schema's digest table has no thread column. dbtop
knows the text of every statement it sent (``Link`` records them); a digest made of the
same words is dbtop's and left out of Slow queries. "The same words": the digest text
re-prints a statement (literals become ``?``, lists ``(...)``, names get backquotes, and
MariaDB even renames some keywords: ``AS USER`` reads ``AS SYSTEM_USER``), so a digest is
dbtop's when its set of words and one of dbtop's statements' overlap by at least
``SAME_WORDS`` (Jaccard), both with at least ``MIN_WORDS`` words; shorter ones must be
equal. The verdict is kept per digest. An application would have to send dbtop's own
statements on performance_schema and information_schema to be left out with them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from dbtop.engines.mysql.summary import COUNTERS

#: the status counters MySQL and MariaDB also keep per connection
SESSION_COUNTERS = tuple(
    name
    for name in COUNTERS
    if name.startswith(("Com_", "Bytes_", "Select_", "Created_tmp", "Handler_"))
    or name in ("Questions", "Queries", "Slow_queries", "Sort_merge_passes")
)
SESSION_STATUS_SQL = "SHOW SESSION STATUS WHERE Variable_name IN ({})".format(
    ", ".join(f"'{name}'" for name in SESSION_COUNTERS)
)
_SELF_COUNTED = frozenset({"Questions", "Queries"})
#: at most this many distinct statement texts remembered (dbtop sends a few dozen)
MAX_TEXTS = 512
#: statements of fewer words must have exactly the digest's words
MIN_WORDS = 5
#: share of words in common (Jaccard) that makes a digest one of dbtop's statements
SAME_WORDS = 0.85

_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
#: MariaDB's digests print SHOW REPLICA STATUS as SHOW SLAVE STATUS, AS USER as SYSTEM_USER
_SYNONYMS = {"replica": "slave", "system_user": "user", "source": "master"}
_WORD = re.compile(r"[a-z_][a-z0-9_$]*")


def _value(values: Mapping[str, str], name: str) -> float | None:
    try:
        return float(values[name.lower()])
    except (KeyError, ValueError):
        return None


class OwnLedger:
    """The status counters dbtop's own connections have added since it started."""

    def __init__(self) -> None:
        self._last: dict[int, dict[str, float]] = {}
        self.totals: dict[str, float] = {}
        self._raw: dict[str, float] = {}
        self._shown: dict[str, float] = {}

    def observe(self, readings: Mapping[int, Mapping[str, str]]) -> None:
        """Each own connection's SHOW SESSION STATUS (lower-cased names), by thread id."""
        for thread, values in readings.items():
            new = thread not in self._last
            before = self._last.get(thread, {})
            now: dict[str, float] = {}
            for name in SESSION_COUNTERS:
                value = _value(values, name)
                if value is None:
                    continue
                now[name] = value
                # a new connection's counters all happened since the previous poll, but
                # for the read itself, which comes after the global one
                grown = value - before.get(name, 0.0) - (new and name in _SELF_COUNTED)
                if grown > 0:
                    self.totals[name] = self.totals.get(name, 0.0) + grown
            self._last[thread] = now
            if new:  # dbtop opened it since the last poll: one of the server's Connections
                self.totals["Connections"] = self.totals.get("Connections", 0.0) + 1
        for thread in [t for t in self._last if t not in readings]:
            del self._last[thread]  # closed: its id may come back as another connection

    def status_reads(self, rows: Iterable[int]) -> None:
        """dbtop ran one SHOW … STATUS per entry, returning that many rows (MariaDB)."""
        for count in rows:
            for name, grown in (
                ("Created_tmp_tables", 1),
                ("Select_scan", 1),
                ("Handler_read_rnd_next", count + 1),
            ):
                self.totals[name] = self.totals.get(name, 0.0) + grown

    def exclude(self, status: Mapping[str, str], *, running_self: int = 1) -> dict[str, str]:
        """``status`` (lower-cased names) with dbtop's own share taken out."""
        out = dict(status)
        for name, own in self.totals.items():
            raw = _value(status, name)
            if raw is None:
                continue
            value = max(raw - own, 0.0)
            last_raw = self._raw.get(name)
            if last_raw is None or raw >= last_raw:
                # never below what was shown: a first read of a connection on a reused
                # thread can count its own temporary table once more than the server did
                value = max(value, self._shown.get(name, 0.0))
            self._raw[name], self._shown[name] = raw, value
            out[name.lower()] = f"{value:.0f}"
        running = _value(status, "Threads_running")
        if running is not None:
            out["threads_running"] = f"{max(running - running_self, 0.0):.0f}"
        return out


def words(sql: str) -> frozenset[str]:
    """The names and keywords of a statement, lower case (literals and punctuation out),
    with the keywords a digest prints under another name under one name."""
    found = _WORD.findall(_QUOTED.sub(" ", sql.lower()))
    return frozenset(_SYNONYMS.get(word, word) for word in found)


class OwnStatements:
    """The statements dbtop sent, as word sets, to know its own digests by."""

    def __init__(self) -> None:
        self._sent: set[frozenset[str]] = set()
        self._verdict: dict[str, bool] = {}

    def seed(self, texts: Iterable[str]) -> None:
        """Statements dbtop may send, known before it sends them: another dbtop (or an
        earlier run) leaves their digests behind in the server's digest table."""
        for text in texts:
            self.sent(text)

    def sent(self, sql: str) -> None:
        if len(self._sent) < MAX_TEXTS:
            mark = words(sql)
            if mark not in self._sent:
                self._sent.add(mark)
                self._verdict.clear()  # a new statement of dbtop's may own known digests

    def is_own(self, digest_text: str) -> bool:
        verdict = self._verdict.get(digest_text)
        if verdict is None:
            verdict = self._judge(words(digest_text))
            if len(self._verdict) < 4 * MAX_TEXTS:
                self._verdict[digest_text] = verdict
        return verdict

    def _judge(self, digest: frozenset[str]) -> bool:
        for mine in self._sent:
            if len(mine) < MIN_WORDS or len(digest) < MIN_WORDS:
                if mine == digest:
                    return True
                continue
            if len(mine & digest) / len(mine | digest) >= SAME_WORDS:
                return True
        return False


def module_statements(modules: Iterable[object]) -> list[str]:
    """The SQL constants of dbtop's MySQL modules (SELECT / SHOW statements)."""
    found = []
    for module in modules:
        for value in vars(module).values():
            head = value.lstrip()[:6].upper() if isinstance(value, str) else ""
            if head in ("SELECT", "SHOW G", "SHOW S"):
                found.append(str(value))
    return found
