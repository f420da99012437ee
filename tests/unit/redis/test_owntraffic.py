"""owntraffic.OwnLedger: dbtop's own commands subtracted from INFO's counters."""

from __future__ import annotations

from dbtop.engines.redis.owntraffic import OwnLedger, stat_name


def info(total: int, **lines: str) -> dict[str, str]:
    return {"total_commands_processed": str(total), **{f"cmdstat_{k}": v for k, v in lines.items()}}


def test_names_are_commandstats_names():
    assert stat_name([b"MEMORY", b"USAGE", b"k"]) == "memory|usage"
    assert stat_name(["CLIENT", "LIST"]) == "client|list"
    assert stat_name(["TYPE", "k"]) == "type"
    assert stat_name(["INFO", "all"]) == "info"


def test_counts_before_the_info_are_subtracted_and_stay_monotonic():
    ledger = OwnLedger()
    for _ in range(3):
        ledger.count(["TYPE", "k"])
    ledger.count(["INFO", "all"])
    ledger.count(["TYPE", "k"])  # after the INFO: not in its reply
    out = ledger.exclude(
        info(110, type="calls=5,usec=50,usec_per_call=10.00", get="calls=100,usec=9")
    )
    assert out["total_commands_processed"] == "107"
    assert out["cmdstat_type"].startswith("calls=2,usec=20,")
    assert out["cmdstat_get"] == "calls=100,usec=9"
    ledger.count(["INFO", "all"])
    # the server ran our TYPE and first INFO since: 110 + 2 + 7 others
    out = ledger.exclude(
        info(119, type="calls=6,usec=60", info="calls=1,usec=5", get="calls=107,usec=9")
    )
    assert out["total_commands_processed"] == "114"
    assert "cmdstat_info" not in out  # nobody but dbtop ran it
    assert out["cmdstat_type"].startswith("calls=2,")


def test_latency_percentiles_dropped_when_mostly_dbtops():
    ledger = OwnLedger()
    ledger.count(["SCAN", 0])
    ledger.count(["INFO"])
    raw = info(50, scan="calls=2,usec=4", get="calls=10,usec=4")
    raw["latency_percentiles_usec_scan"] = "p50=1.0"
    raw["latency_percentiles_usec_get"] = "p50=1.0"
    out = ledger.exclude(raw)
    assert "latency_percentiles_usec_scan" not in out
    assert "latency_percentiles_usec_get" in out


def test_redis_6_counts_the_container_command():
    ledger = OwnLedger()
    ledger.count(["CLIENT", "LIST"])
    ledger.count(["INFO"])
    out = ledger.exclude(info(10, client="calls=3,usec=30"))
    assert out["cmdstat_client"].startswith("calls=2,")


def test_a_counter_reset_moves_the_base():
    ledger = OwnLedger()
    for _ in range(50):
        ledger.count(["TYPE", "k"])
    ledger.count(["INFO"])
    ledger.exclude(info(100, type="calls=50,usec=1"))
    ledger.count(["TYPE", "k"])
    ledger.count(["INFO"])  # CONFIG RESETSTAT ran before this INFO
    out = ledger.exclude(info(3, type="calls=1,usec=1", get="calls=2,usec=1"))
    assert int(out["total_commands_processed"]) >= 2
    ledger.count(["INFO"])
    out = ledger.exclude(
        info(6, type="calls=1,usec=1", info="calls=1,usec=1", get="calls=3,usec=1")
    )
    assert out["total_commands_processed"] == "4"  # 6 minus our INFO and TYPE since the reset


def test_a_line_time_never_goes_down_as_dbtops_share_grows():
    ledger = OwnLedger()
    ledger.count(["INFO"])
    # other dbtop runs and clients used SLOWLOG GET before this one
    first = ledger.exclude(info(10, **{"slowlog|get": "calls=6,usec=120"}))
    assert first["cmdstat_slowlog|get"].startswith("calls=6,usec=120")
    ledger.count(["SLOWLOG", "GET", 128])
    ledger.count(["INFO"])
    second = ledger.exclude(info(13, **{"slowlog|get": "calls=7,usec=125"}))
    assert second["cmdstat_slowlog|get"].startswith("calls=6,usec=120")  # not 125 * 6 // 7
