from dbtop.engines.base import ConnectOptions
from dbtop.engines.redis import RedisEngine
from dbtop.engines.redis.capabilities import LABELS, declare_capabilities
from dbtop.model import ACTIONS, Feature


def _declare(read_only: bool, config: dict[str, str] | None, version: str = "7.2.4"):
    engine = RedisEngine("redis://127.0.0.1:1/0", ConnectOptions(read_only=read_only))
    caps = declare_capabilities(
        engine,
        config,
        version=version,
        cluster=False,
        db=0,
        nodes=["127.0.0.1:1"],
        node_errors={},
        search=[],
    )
    assert engine.capabilities is caps
    return caps


def test_capabilities_are_declared_with_the_redis_labels():
    caps = _declare(False, {"slowlog-log-slower-than": "10000"})
    assert caps.labels == LABELS
    assert caps.has(Feature.CANCEL) and caps.has(Feature.TERMINATE)
    assert caps.extra["version"] == "7.2.4"


def test_read_only_declares_no_action_and_says_why():
    caps = _declare(True, {})
    assert not caps.features & ACTIONS
    assert caps.notices_for(Feature.CANCEL)


def test_every_notice_names_a_feature():
    caps = _declare(False, {"slowlog-log-slower-than": "-1"}, version="6.2.0")
    assert caps.notices
    assert all(isinstance(n.feature, Feature) for n in caps.notices)
    assert caps.notices_for(Feature.STATEMENTS) and caps.notices_for(Feature.EXPLAIN)


def test_redis_before_5_cannot_unblock():
    assert not _declare(False, {}, version="4.0.14").has(Feature.CANCEL)
