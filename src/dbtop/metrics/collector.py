"""The metric families, built at scrape time from each target's latest poll.

Label cardinality is bounded: per target at most ``TOP_STATEMENTS`` statements (the most
time per second in the last interval; their ``query`` label cut to ``QUERY_LABEL_CHARS``
characters), ``TOP_ROOT_BLOCKERS`` root blockers, and whatever states, wait classes and
finding kinds the engine has (a few dozen). Passwords are never in a label: targets are
named by their config name or their URL without the password.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dbtop.analysis.fleet import figures
from dbtop.metrics.target import TargetMetrics
from dbtop.safetext import one_line

TOP_STATEMENTS = 10
TOP_ROOT_BLOCKERS = 5
QUERY_LABEL_CHARS = 80


class FleetCollector(Collector):
    def __init__(self, targets: Sequence[TargetMetrics]) -> None:
        self.targets = list(targets)

    def collect(self) -> Iterator[Metric]:
        g = GaugeMetricFamily
        up = g("dbtop_up", "1 while the target answers within two intervals", labels=["target"])
        age = g("dbtop_snapshot_age_seconds", "age of the latest snapshot", labels=["target"])
        poll_s = g("dbtop_poll_duration_seconds", "how long the last poll took", labels=["target"])
        polls = CounterMetricFamily("dbtop_polls", "successful polls", labels=["target"])
        errors = CounterMetricFamily(
            "dbtop_poll_errors", "failed polls and connection attempts", labels=["target"]
        )
        poll_total = CounterMetricFamily(
            "dbtop_poll_seconds", "time spent in successful polls", labels=["target"]
        )
        info = g(
            "dbtop_target_info",
            "engine, role, version",
            labels=["target", "engine", "role", "version"],
        )
        sessions = g(
            "dbtop_sessions",
            "sessions by state and wait class (dbtop's own left out)",
            labels=["target", "state", "wait_class"],
        )
        active = g("dbtop_active_sessions", "sessions of others doing something", labels=["target"])
        connections = g("dbtop_connections", "connections the server counts", labels=["target"])
        max_conn = g("dbtop_max_connections", "the server's connection limit", labels=["target"])
        waiters = g("dbtop_lock_waiters", "sessions waiting on a lock", labels=["target"])
        roots = g(
            "dbtop_lock_root_blockers", "sessions at the root of a lock chain", labels=["target"]
        )
        frees = g(
            "dbtop_lock_root_blocker_frees",
            f"sessions a root blocker holds up (top {TOP_ROOT_BLOCKERS})",
            labels=["target", "session"],
        )
        lag = g("dbtop_replication_lag_seconds", "replication lag", labels=["target"])
        throughput = g(
            "dbtop_throughput_per_second",
            "the engine's throughput counter per second (TPS, QPS, OPS)",
            labels=["target", "counter"],
        )
        calls = g(
            "dbtop_statement_calls_per_second",
            f"calls per second of the top {TOP_STATEMENTS} statements by time",
            labels=["target", "statement", "query"],
        )
        time_ms = g(
            "dbtop_statement_time_ms_per_second",
            f"milliseconds of execution per second of the top {TOP_STATEMENTS} statements",
            labels=["target", "statement", "query"],
        )
        findings = g(
            "dbtop_findings", "findings by kind and severity", labels=["target", "kind", "severity"]
        )
        for target in self.targets:
            name = target.name
            result, _status, n_polls, n_errors, seconds, last = target.read()
            up.add_metric([name], 1.0 if target.is_up() else 0.0)
            polls.add_metric([name], n_polls)
            errors.add_metric([name], n_errors)
            poll_total.add_metric([name], seconds)
            if last is not None:
                poll_s.add_metric([name], last)
            snapshot_age = target.snapshot_age_s()
            if snapshot_age is not None:
                age.add_metric([name], snapshot_age)
            if result is None:
                continue
            snapshot = result.snapshot
            server = snapshot.server
            fig = figures(snapshot, result.forest)
            info.add_metric(
                [name, snapshot.engine, server.role or "", one_line(server.version, 60)], 1.0
            )
            for (state, wait), n in sorted(fig.sessions_by_state.items()):
                sessions.add_metric([name, state, wait], n)
            active.add_metric([name], fig.active_sessions)
            if server.connections is not None:
                connections.add_metric([name], server.connections)
            if server.max_connections is not None:
                max_conn.add_metric([name], server.max_connections)
            waiters.add_metric([name], fig.lock_waiters)
            roots.add_metric([name], len(fig.root_blockers))
            for root in fig.root_blockers[:TOP_ROOT_BLOCKERS]:
                frees.add_metric([name, one_line(root.session_id, 40)], root.frees)
            if fig.replication_lag_s is not None:
                lag.add_metric([name], fig.replication_lag_s)
            if fig.throughput is not None and server.throughput_counter:
                throughput.add_metric([name, server.throughput_counter], fig.throughput)
            for (kind, severity), n in sorted(fig.findings_by_kind.items()):
                findings.add_metric([name, kind, severity], n)
            rates = snapshot.rates
            if rates is not None and not rates.reset:
                texts = {s.id: s.query for s in snapshot.statements}
                top = sorted(rates.statements.items(), key=lambda kv: -kv[1].total_ms_s)
                for statement_id, rate in top[:TOP_STATEMENTS]:
                    labels = [
                        name,
                        one_line(statement_id, 64),
                        one_line(texts.get(statement_id, ""), QUERY_LABEL_CHARS),
                    ]
                    calls.add_metric(labels, rate.calls_s)
                    time_ms.add_metric(labels, rate.total_ms_s)
        yield from (
            up,
            age,
            poll_s,
            polls,
            errors,
            poll_total,
            info,
            sessions,
            active,
            connections,
            max_conn,
            waiters,
            roots,
            frees,
            lag,
            throughput,
            calls,
            time_ms,
            findings,
        )
