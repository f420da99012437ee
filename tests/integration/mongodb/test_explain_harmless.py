"""executionStats that cannot act, against the scripted server: a command that runs
JavaScript or writes is refused before any explain reaches the server."""

import pytest

from dbtop.errors import RefusedError

SHOP = 'db.getSiblingDB("shop")'


@pytest.mark.parametrize(
    ("query", "named"),
    [
        (SHOP + '.orders.find({ $where: "sleep(100000) || true" })', "$where"),
        (
            SHOP + '.orders.find({ $expr: { $function: { body: "function() { return true }",'
            " args: [], lang: 'js' } } })",
            "$function",
        ),
        (
            SHOP + ".orders.aggregate([{ $lookup: { from: 'c', as: 'x', pipeline: "
            "[{ $match: { $where: 'true' } }] } }])",
            "$where",
        ),
        (
            SHOP + ".orders.aggregate([{ $group: { _id: 1, n: { $accumulator: "
            "{ init: 'function() {}', accumulate: 'function() {}', accumulateArgs: [],"
            " merge: 'function() {}', lang: 'js' } } } }])",
            "$accumulator",
        ),
        (SHOP + ".orders.aggregate([{ $match: {} }, { $out: 'copy' }])", "$out"),
    ],
)
async def test_execution_stats_refuses_what_acts(engine, mongo, query, named):
    with pytest.raises(RefusedError) as err:
        await engine.explain(query=query, analyze=True)
    message = str(err.value)
    assert named in message and "\n" not in message
    assert not mongo.commands("explain"), "no explain reached the server"


async def test_plain_explain_of_where_is_still_sent_as_query_planner(engine, mongo):
    await engine.explain(query=SHOP + '.orders.find({ $where: "true" })')
    (sent,) = mongo.commands("explain")
    assert sent["verbosity"] == "queryPlanner"


async def test_execution_stats_refuses_a_view_that_runs_javascript(engine, mongo):
    mongo.world.views[("shop", "acting")] = {
        "viewOn": "orders",
        "pipeline": [{"$match": {"$expr": {"$function": {"body": "1", "args": [], "lang": "js"}}}}],
    }
    mongo.world.views[("shop", "over_acting")] = {"viewOn": "acting", "pipeline": []}
    for query in (
        SHOP + ".acting.find({})",
        SHOP + ".over_acting.find({})",
        SHOP + ".orders.aggregate([{ $lookup: { from: 'acting', as: 'x', pipeline: [] } }])",
    ):
        with pytest.raises(RefusedError, match=r"\$function \(in the view acting\)"):
            await engine.explain(query=query, analyze=True)
    assert not mongo.commands("explain"), "no explain reached the server"
    # a plain collection, and a view without JavaScript, are analyzed
    mongo.world.views[("shop", "plain")] = {"viewOn": "orders", "pipeline": [{"$match": {}}]}
    await engine.explain(query=SHOP + ".plain.find({})", analyze=True)
    assert mongo.commands("explain")[-1]["verbosity"] == "executionStats"
