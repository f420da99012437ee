"""INFO text as Redis 7 prints it."""

from dbtop.engines.redis.info import (
    commandstats,
    config_map,
    errorstats,
    keyspace,
    latencystats,
    parse_info,
    version_number,
)

INFO = b"""# Server\r
redis_version:7.0.15\r
redis_mode:standalone\r
\r
# Commandstats\r
cmdstat_get:calls=10,usec=25,usec_per_call=2.50,rejected_calls=1,failed_calls=2\r
cmdstat_client|list:calls=3,usec=300,usec_per_call=100.00,rejected_calls=0,failed_calls=0\r
\r
# Errorstats\r
errorstat_WRONGTYPE:count=3\r
\r
# Latencystats\r
latency_percentiles_usec_get:p50=1.003,p99=3.007,p99.9=10.015\r
\r
# Keyspace\r
db0:keys=100,expires=10,avg_ttl=5000\r
db9:keys=2,expires=0,avg_ttl=0\r
"""


def test_flat_map_without_headers():
    info = parse_info(INFO)
    assert info["redis_version"] == "7.0.15"
    assert "# Server" not in info


def test_commandstats():
    stats = commandstats(parse_info(INFO))
    assert stats["get"].calls == 10
    assert stats["get"].rejected_calls == 1 and stats["get"].failed_calls == 2
    assert stats["client|list"].usec == 300


def test_latency_and_error_stats():
    info = parse_info(INFO)
    assert latencystats(info)["get"] == {"p50": 1.003, "p99": 3.007, "p99.9": 10.015}
    assert errorstats(info) == {"WRONGTYPE": 3}


def test_keyspace():
    dbs = keyspace(parse_info(INFO))
    assert list(dbs) == [0, 9]
    assert dbs[0].keys == 100 and dbs[0].expires == 10 and dbs[0].avg_ttl_ms == 5000


def test_version_and_config():
    assert version_number("7.0.15") == 70015
    assert version_number("7.2") == 70200
    assert version_number("unstable") is None
    assert config_map([b"maxmemory", b"0", b"maxmemory-policy", b"noeviction"]) == {
        "maxmemory": "0",
        "maxmemory-policy": "noeviction",
    }
