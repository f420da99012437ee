"""What the Redis engine can show and do on this server, and the notices that explain gaps.

Built once at connect from the server's version and settings (CONFIG GET, which a busy
script or an ACL may refuse: ``config`` None or empty).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dbtop.engines.base import EngineBase
from dbtop.engines.redis.info import integer, version_number
from dbtop.model import Capabilities, Feature, Notice, PaneLabels, Severity

LABELS = PaneLabels(sessions="Clients", statements="Slow log", indexes="Keyspace", locks="Blocked")


def config_notices(
    config: Mapping[str, str] | None, *, version: str, cluster: bool, db: int
) -> list[Notice]:
    settings = config or {}
    number = version_number(version) or 0
    notices: list[Notice] = []
    if config is not None and not config:
        notices.append(
            Notice(
                feature=Feature.STATEMENTS,
                message="CONFIG GET is refused or renamed: limits, the slow-log threshold "
                "and the eviction policy are unknown",
                hint="grant +config|get to dbtop's user",
                severity=Severity.INFO,
            )
        )
    slower = integer(settings.get("slowlog-log-slower-than"))
    if slower is not None and slower < 0:
        notices.append(
            Notice(
                feature=Feature.STATEMENTS,
                message="the slow log is off (slowlog-log-slower-than is negative)",
                hint="CONFIG SET slowlog-log-slower-than 10000 (µs) to log commands over 10 ms",
            )
        )
    if settings and integer(settings.get("latency-monitor-threshold"), 0) == 0:
        notices.append(
            Notice(
                feature=Feature.STATEMENTS,
                message="the latency monitor is off: no latency spikes are recorded",
                hint="CONFIG SET latency-monitor-threshold 100 (ms)",
                severity=Severity.INFO,
            )
        )
    if number and number < 70000:
        notices.append(
            Notice(
                feature=Feature.EXPLAIN,
                message=f"Redis {version} has no COMMAND DOCS and no latencystats: "
                "explain cannot show a command's complexity, nor percentiles per command",
                hint="Redis 7.0 or later has both",
                severity=Severity.INFO,
            )
        )
    elif settings.get("latency-tracking") == "no":
        notices.append(
            Notice(
                feature=Feature.STATEMENTS,
                message="latency-tracking is off: no per-command percentiles",
                hint="CONFIG SET latency-tracking yes",
                severity=Severity.INFO,
            )
        )
    if cluster and db != 0:
        notices.append(
            Notice(
                feature=Feature.INDEXES,
                message=f"a cluster has only database 0; the URL's db{db} is ignored",
                severity=Severity.INFO,
            )
        )
    return notices


def declare_capabilities(
    engine: EngineBase,
    config: Mapping[str, str] | None,
    *,
    version: str,
    cluster: bool,
    db: int,
    nodes: Iterable[str],
    node_errors: Mapping[str, str],
    search: Iterable[str],
) -> Capabilities:
    """Declare on ``engine`` what this server allows (``declare`` drops the actions under
    --read-only), with the notices of what is missing."""
    notices = config_notices(config, version=version, cluster=cluster, db=db)
    notices.extend(
        Notice(feature=Feature.SESSIONS, message=f"node {name}: {error}")
        for name, error in node_errors.items()
    )
    number = version_number(version) or 0
    features = {
        Feature.SERVER,
        Feature.SESSIONS,
        Feature.HEALTH,
        Feature.STATEMENTS,
        Feature.INDEXES,
        Feature.LOCKS,
        Feature.TERMINATE,
        Feature.EXPLAIN,
        Feature.EXPLAIN_SESSION,
        Feature.SUGGEST,
    }
    if not number or number >= 50000:  # CLIENT UNBLOCK is Redis 5.0+
        features.add(Feature.CANCEL)
    return engine.declare(
        features,
        notices,
        labels=LABELS,
        extra={
            "cluster": cluster,
            "nodes": list(nodes),
            "search": sorted(search),
            "version": version,
            "session_ids": "client id; NODE/id in a cluster; 'script' (busy script), "
            "'pause' (CLIENT PAUSE)",
        },
    )
