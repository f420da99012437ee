"""The MySQL / MariaDB engine: ``mysql://`` and ``mariadb://`` URLs through aiomysql.

One monitor connection answers every poll; a second one, opened on first use, serves the
user's actions (kill, explain, suggest) so that they never wait behind a poll. Both are
dbtop's own (``Session.is_self``) and never kill targets. See docs/engines/mysql.md.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, ClassVar

import pymysql

from dbtop.analysis.progress import Tracker, attach
from dbtop.engines.base import ConnectOptions, EngineBase
from dbtop.engines.mysql import capabilities as caps_mod
from dbtop.engines.mysql import explain as explain_mod
from dbtop.engines.mysql import flavor as flavor_mod
from dbtop.engines.mysql import harmless as explain_harmless
from dbtop.engines.mysql import health as health_mod
from dbtop.engines.mysql import indexes as index_mod
from dbtop.engines.mysql import inferred as inferred_mod
from dbtop.engines.mysql import kill as kill_mod
from dbtop.engines.mysql import locks as lock_mod
from dbtop.engines.mysql import owntraffic as own_mod
from dbtop.engines.mysql import progress as progress_mod
from dbtop.engines.mysql import sessions as session_mod
from dbtop.engines.mysql import statements as statement_mod
from dbtop.engines.mysql import summary as summary_mod
from dbtop.engines.mysql.capabilities import Access, Grants
from dbtop.engines.mysql.connection import (
    ER_KILL_DENIED,
    ER_MARIADB_TARGET_NOT_EXPLAINABLE,
    ER_NO_SUCH_THREAD,
    LOST_CODES,
    OPTIONAL_SETTINGS,
    PRIVILEGE_CODES,
    Link,
    error_code,
    error_text,
    failure_notice,
    fetch_raw,
    open_raw,
    session_settings,
    translate,
)
from dbtop.engines.mysql.flavor import Flavor
from dbtop.engines.mysql.owntraffic import SESSION_STATUS_SQL, OwnLedger, OwnStatements
from dbtop.engines.mysql.poll import Cached, Poll
from dbtop.engines.mysql.url import Target, parse_url
from dbtop.engines.own import OwnConnections
from dbtop.engines.sections import Sections
from dbtop.errors import (
    ConnectError,
    NotFoundError,
    PrivilegeError,
    RefusedError,
    UsageError,
)
from dbtop.model import (
    Advice,
    Feature,
    Finding,
    KillMode,
    KillResult,
    Notice,
    Plan,
    Session,
    Snapshot,
    frozen,
)

#: the server-side limit of an ANALYZE the user asked for (it runs the statement)
ANALYZE_LIMIT_MS = 60_000


class MySQLEngine(EngineBase):
    """An adapter for one MySQL or MariaDB server (see the module doc)."""

    name: ClassVar[str] = "mysql"

    def __init__(self, url: str | None, options: ConnectOptions | None = None) -> None:
        target = parse_url(url)
        super().__init__(options, target.address)
        self._target: Target = target
        self._monitor: Link | None = None
        self._work: Link | None = None
        self._work_lock = asyncio.Lock()
        self._own: OwnConnections[Link] = OwnConnections()
        self._flavor: Flavor | None = None
        self._access = Access(Grants("CURRENT_USER", flavor_mod.from_variables({})))
        #: source -> notice, for what a missing privilege disabled for good
        self._denied: dict[str, Notice] = {}
        #: whether the last poll had index usage (None before the first)
        self._index_usage: bool | None = None
        self._cached = Cached()
        self._own_counters = OwnLedger()
        self._own_texts = OwnStatements()
        self._own_texts.seed(
            own_mod.module_statements(
                (caps_mod, session_mod, summary_mod, index_mod, inferred_mod, lock_mod, own_mod)
            )
        )
        self._health = health_mod.HealthSource()
        self._progress = Tracker()

    @property
    def flavor(self) -> Flavor:
        if self._flavor is None:
            raise UsageError("not connected")
        return self._flavor

    @property
    def target(self) -> Target:
        return self._target

    # -- connections ------------------------------------------------------------------------

    async def connect(self) -> None:
        if self._monitor is not None:
            if not self._monitor.closed:
                return
            self._own.discard(self._monitor)
            self._monitor = None
        raw = await open_raw(self._target, self.options)
        try:
            rows = await fetch_raw(
                raw, summary_mod.VARIABLES_SQL, deadline_s=self.options.deadline_s
            )
            flavor = flavor_mod.from_variables(summary_mod.name_values(rows))
            link = Link(raw, flavor, self.options, self._target)
            link.sent = self._own_texts.sent
            await link.apply(session_settings(flavor, self.options), OPTIONAL_SETTINGS)
            self._monitor = link
            self._own.add(link, link.thread_id)
            self._flavor, self._access, denied = await caps_mod.probe(link, flavor)
            self._denied.update(denied)
            link.flavor = self._flavor
            self._own_texts.seed([statement_mod.digest_sql(self._flavor), statement_mod.SLOW_LOG])
            # the advisor's catalog reads (imported here: advice_facts imports this module)
            from dbtop.engines.mysql import advice_facts

            self._own_texts.seed(own_mod.module_statements([advice_facts]))
        except pymysql.err.MySQLError as exc:
            raw.close()
            if self._monitor is not None:
                self._own.discard(self._monitor)
            self._monitor = None
            raise translate(exc, self._target) from None
        self._index_usage = None
        self._declare()

    async def close(self) -> None:
        self._drop()

    def _drop(self) -> None:
        for link in (self._monitor, self._work):
            if link is not None:
                link.close()
        self._monitor = None
        self._work = None
        self._own.clear()

    async def _link(self) -> Link:
        if self._monitor is None or self._monitor.closed:
            await self.connect()
        assert self._monitor is not None
        return self._monitor

    async def _work_link(self) -> Link:
        """The connection for user actions, opened on first use with the same settings."""
        async with self._work_lock:
            if self._work is None or self._work.closed:
                if self._work is not None:
                    self._own.discard(self._work)
                raw = await open_raw(self._target, self.options)
                link = Link(raw, self.flavor, self.options, self._target)
                link.sent = self._own_texts.sent
                try:
                    await link.apply(session_settings(self.flavor, self.options), OPTIONAL_SETTINGS)
                except pymysql.err.MySQLError as exc:
                    link.close()
                    raise translate(exc, self._target) from None
                self._work = link
                self._own.add(link, link.thread_id)
            return self._work

    async def work_fetch(self, sql: str, args: Any = None) -> list[dict[str, Any]]:
        """A read on the action connection (the advisor's EXPLAINs and catalog reads)."""
        link = await self._work_link()
        return await link.fetch(sql, args)

    # -- what this account may read ---------------------------------------------------------

    def _declare(self) -> None:
        flavor = self.flavor
        usage = caps_mod.index_usage_source(flavor, self._access) is not None
        self.declare(
            caps_mod.features(
                flavor,
                process=self._access.process,
                digests=flavor.performance_schema and self._access.digests,
                index_usage=usage if self._index_usage is None else self._index_usage,
            ),
            [*caps_mod.setting_notices(flavor), *self._denied.values()],
            extra=caps_mod.facts(flavor, self._access),
        )

    def _deny(self, source: str, notice: Notice) -> None:
        """A missing privilege disables ``source`` for good; the notice names the grant."""
        self._denied[source] = notice
        self._declare()

    # -- the poll ---------------------------------------------------------------------------

    async def snapshot(self) -> Snapshot:
        link = await self._link()
        started = time.monotonic()
        try:
            return await self._collect(link, started)
        except pymysql.err.MySQLError as exc:
            raise self._lost(exc, "the poll") or translate(exc, self._target) from None

    def _lost(self, exc: BaseException, what: str) -> BaseException | None:
        """The error that ends the poll when the monitor connection is gone, else None."""
        if not isinstance(exc, pymysql.err.MySQLError):
            return None
        monitor = self._monitor
        if error_code(exc) not in LOST_CODES and not (monitor is None or monitor.closed):
            return None
        self._drop()
        return ConnectError(f"{self.address}: lost the connection: {error_text(exc)}")

    async def _collect(self, link: Link, started: float) -> Snapshot:
        taken_at = session_mod.now_utc()
        variables = await self._cached.variables.get(
            lambda: self._name_values(link, summary_mod.VARIABLES_SQL)
        )
        status = await self._own_status(link, await self._name_values(link, summary_mod.STATUS_SQL))
        flavor = self._reflavor(link, variables)
        poll = self._poll(link, flavor)

        role, lag, replica = await poll.replication()
        sessions, lock_waits = await poll.sessions(taken_at)
        statements = await poll.statements()
        slow_events = await poll.slow_events()
        indexes = await poll.indexes(status)
        database_size = await poll.database_size()
        sessions, checked = await self._health_and_progress(
            poll, link, sessions, variables, lag, replica
        )

        self._saw_index_usage(indexes.usage_source is not None)
        return Snapshot(
            engine=self.name,
            taken_at=taken_at,
            monotonic=time.monotonic(),
            server=summary_mod.summary(
                flavor=flavor,
                address=self.address,
                status=status,
                variables=variables,
                database=self._target.database,
                database_size=database_size,
                role=role,
                lag=lag,
                replica=replica,
            ),
            capabilities=self.capabilities,
            sessions=sessions,
            statements=statements,
            slow_events=slow_events,
            indexes=indexes.indexes,
            tables=indexes.tables,
            lock_waits=tuple(lock_waits),
            findings=indexes.findings + tuple(checked),
            notices=tuple(poll.sections.notices),
            collect_ms=(time.monotonic() - started) * 1000.0,
            extra=frozen(
                flavor=flavor.name,
                own_sessions=sorted(poll.own),
                index_usage_source=indexes.usage_source,
                session_source=caps_mod.session_source(self._access),
            ),
        )

    async def _health_and_progress(
        self,
        poll: Poll,
        link: Link,
        sessions: tuple[Session, ...],
        variables: dict[str, str],
        lag: float | None,
        replica: dict[str, Any],
    ) -> tuple[tuple[Session, ...], list[Finding]]:
        """The sessions with their ALTER TABLE's progress, and the health findings."""
        sql = progress_mod.progress_sql(poll.flavor)
        if sql is not None:
            rows = await poll.rows("progress", "ALTER TABLE progress", sql) or []
            found = progress_mod.parse(poll.flavor, rows)
            sessions = attach(sessions, found, self._progress, time.monotonic())
        max_conn = variables.get("max_connections")
        checked, notices = await poll.sections.read(
            Feature.HEALTH,
            "health checks",
            self._health.read(
                link,
                sessions,
                max_connections=int(max_conn) if max_conn and max_conn.isdigit() else None,
                replica={**replica, "lag_s": lag} if replica else None,
                who=self._access.grants.who,
            ),
            ([], []),
        )
        for notice in notices:
            poll.sections.note(notice)
        return sessions, checked

    def _poll(self, link: Link, flavor: Flavor) -> Poll:
        timeout_ms = self.options.statement_timeout_ms
        return Poll(
            link=link,
            flavor=flavor,
            access=self._access,
            own=self._own.ids,
            own_statements=self._own_texts,
            sections=Sections(
                recoverable=(pymysql.err.MySQLError,),
                lost=self._lost,
                notice=lambda feature, what, exc: failure_notice(feature, what, exc, timeout_ms),
            ),
            cached=self._cached,
            denied=self._denied,
            deny=self._deny,
            database=self._target.database,
        )

    async def _own_status(self, link: Link, status: dict[str, str]) -> dict[str, str]:
        """The global status less dbtop's own connections' share (owntraffic.py)."""
        readings = {link.thread_id: await self._name_values(link, SESSION_STATUS_SQL)}
        work = self._work
        if work is not None and not work.closed:
            try:
                readings[work.thread_id] = await self._name_values(work, SESSION_STATUS_SQL)
            except pymysql.err.MySQLError:
                work.close()  # reopened on the next action; its share so far is counted
        self._own_counters.observe(readings)
        if link.flavor.mariadb:
            self._own_counters.status_reads([len(status), *(len(r) for r in readings.values())])
        return self._own_counters.exclude(status)

    @staticmethod
    async def _name_values(link: Link, sql: str) -> dict[str, str]:
        return summary_mod.name_values(await link.fetch(sql))

    def _reflavor(self, link: Link, variables: dict[str, str]) -> Flavor:
        """The flavour from the settings just read (log_output, userstat … change live)."""
        old = self.flavor
        fresh = flavor_mod.from_variables(
            variables,
            mdl_plugin=old.mdl_plugin,
            mdl_instrumented=old.mdl_instrumented,
            kill_procedures=old.kill_procedures,
        )
        if fresh != old:
            self._flavor = fresh
            link.flavor = fresh
            self._declare()
        return fresh

    def _saw_index_usage(self, seen: bool) -> None:
        """The indexes pane is offered while index usage is readable, not only configured."""
        if self.capabilities.has(Feature.INDEXES) != seen:
            self._index_usage = seen
            self._declare()

    # -- actions ----------------------------------------------------------------------------

    async def kill(
        self, session_id: str, mode: KillMode, *, expected: Session | None = None
    ) -> KillResult:
        self.refuse_read_only()
        tid = kill_mod.thread_id(session_id)
        await self._link()
        self.refuse_own(str(tid), self._own.ids)
        flavor = self.flavor
        sql = kill_mod.kill_sql(tid, mode, flavor.kill_procedures)
        link = await self._work_link()
        try:
            if expected is not None:
                rows = await link.fetch(kill_mod.IDENTITY_SQL, (tid,))
                kill_mod.check_same(tid, rows, mode, expected, session_mod.now_utc())
            await link.execute(sql)
        except pymysql.err.MySQLError as exc:
            code = error_code(exc)
            if code == ER_NO_SUCH_THREAD:
                raise NotFoundError(f"no session {tid} on {self.address}") from None
            if code == ER_KILL_DENIED or code in PRIVILEGE_CODES:
                hint = kill_mod.kill_grant_hint(flavor.mariadb, flavor.version)
                raise PrivilegeError(
                    f"not allowed to kill session {tid} of another account: "
                    f"{hint} TO {self._access.grants.who}"
                ) from None
            raise translate(exc, self._target) from None
        what = "query cancelled" if mode is KillMode.CANCEL else "connection ended"
        return KillResult(str(tid), mode, True, f"{sql}: {what}")

    async def explain(
        self,
        *,
        query: str | None = None,
        session_id: str | None = None,
        analyze: bool = False,
    ) -> Plan:
        await self._link()
        if session_id is not None:
            if analyze:
                raise UsageError("ANALYZE needs the statement: give it with --query")
            return await self._explain_session(session_id)
        if query is None:
            raise UsageError("explain needs a query or a session id")
        prepared = explain_mod.prepare(query)
        sql, form = explain_mod.explain_sql(prepared, self.flavor, analyze=analyze)
        link = await self._work_link()
        try:
            if analyze:
                await explain_harmless.prove(link, prepared.tree, prepared.sql)
            if analyze:
                rows = await self._analyze(link, sql)
            else:
                rows = await link.fetch(sql)
        except pymysql.err.MySQLError as exc:
            if error_code(exc) in LOST_CODES:  # a stall or a drop: say which server
                raise translate(exc, self._target) from None
            raise explain_mod.explain_error(exc) from None
        return explain_mod.plan(prepared.sql, rows, form, analyzed=analyze, notes=prepared.notes)

    async def suggest(self) -> Advice:
        from dbtop.engines.mysql import advice

        return await advice.suggest(self)

    async def _explain_session(self, session_id: str) -> Plan:
        tid = kill_mod.thread_id(session_id)
        if str(tid) in self._own:
            raise RefusedError(f"session {tid} is dbtop's own connection")
        sql, form = explain_mod.session_explain_sql(self.flavor, tid)
        link = await self._work_link()
        text_rows = await link.fetch(
            "SELECT INFO FROM information_schema.PROCESSLIST WHERE ID = %s", (tid,)
        )
        if not text_rows:
            raise NotFoundError(f"no session {tid} on {self.address}")
        query = text_rows[0].get("INFO")
        try:
            rows = await link.fetch(sql)
        except pymysql.err.MySQLError as exc:
            code = error_code(exc)
            if code == ER_NO_SUCH_THREAD:
                raise NotFoundError(f"no session {tid} on {self.address}") from None
            if code == ER_MARIADB_TARGET_NOT_EXPLAINABLE:
                raise NotFoundError(
                    f"session {tid} is not running a statement with a plan"
                ) from None
            raise explain_mod.explain_error(exc) from None
        if not rows:
            raise NotFoundError(f"session {tid} is not running a statement with a plan")
        text = query.decode("utf-8", "replace") if isinstance(query, bytes) else str(query or "")
        note = "plan of the running statement (" + sql.split(" FOR")[0] + ")"
        return explain_mod.plan(text, rows, form, analyzed=False, notes=(note,))

    async def _analyze(self, link: Link, sql: str) -> list[dict[str, Any]]:
        """Run ANALYZE in a read-only transaction, rolled back, with a longer limit."""
        limit_ms = self.options.statement_timeout_ms
        if self.flavor.has_statement_time:
            raise_limit = f"SET SESSION max_statement_time = {ANALYZE_LIMIT_MS / 1000:.3f}"
            restore = f"SET SESSION max_statement_time = {limit_ms / 1000:.3f}"
        else:
            raise_limit = f"SET SESSION max_execution_time = {ANALYZE_LIMIT_MS}"
            restore = f"SET SESSION max_execution_time = {limit_ms}"
        await link.execute(raise_limit)
        try:
            await link.execute("START TRANSACTION READ ONLY")
            try:
                return await link.fetch(sql, hint=False, deadline_s=ANALYZE_LIMIT_MS / 1000 + 2)
            finally:
                await link.execute("ROLLBACK")
        finally:
            await link.execute(restore)
