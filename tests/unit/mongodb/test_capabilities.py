"""The declared features and the notices of what is missing, by deployment."""

from dbtop.engines.mongodb import capabilities
from dbtop.engines.mongodb.capabilities import StickyNotices
from dbtop.model import Feature, Notice


def test_a_mongod_offers_the_profiler_and_idle_on_request():
    found = capabilities.features(is_mongos=False, profiled=[])
    assert Feature.PROFILER in found and Feature.IDLE_ON_REQUEST in found
    assert Feature.STATEMENTS not in found  # no profiler on: no statement totals
    assert Feature.STATEMENTS in capabilities.features(is_mongos=False, profiled=["shop"])


def test_a_mongos_has_no_profiler_and_says_why():
    assert Feature.PROFILER not in capabilities.features(is_mongos=True, profiled=[])
    notes = capabilities.notices(
        is_mongos=True, watched=["shop"], profiled=[], levels_known=True, sticky=StickyNotices()
    )
    (why,) = [n for n in notes if n.feature is Feature.PROFILER]
    assert "cannot switch the profiler through mongos" in why.message


def test_the_profiler_off_notice_names_the_databases_and_the_command():
    notes = capabilities.notices(
        is_mongos=False, watched=["shop"], profiled=[], levels_known=True, sticky=StickyNotices()
    )
    (off,) = notes
    assert off.feature is Feature.STATEMENTS and "profiler is off in shop" in off.message
    assert 'db.getSiblingDB("shop").setProfilingLevel(1, { slowms: 100 })' in off.hint
    # before the levels were read there is nothing to say yet
    assert not capabilities.notices(
        is_mongos=False, watched=["shop"], profiled=[], levels_known=False, sticky=StickyNotices()
    )


def test_sticky_notices_are_kept_by_key():
    sticky = StickyNotices()
    sticky.keep("inprog", Notice(Feature.SESSIONS, "first"))
    sticky.keep("inprog", Notice(Feature.SESSIONS, "again"))
    assert [n.message for n in sticky.all()] == ["again"]
