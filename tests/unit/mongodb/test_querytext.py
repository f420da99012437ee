"""What a user types to explain: mongosh calls and command documents, and clear errors."""

import datetime as dt

import pytest
from bson import Int64, ObjectId
from bson.binary import Binary
from bson.regex import Regex

from dbtop.engines.mongodb.querytext import parse
from dbtop.errors import QueryError


def test_find_chain():
    parsed = parse(
        "db.orders.find({ status: 'A', qty: { $lt: 30 }, }, { _id: 0 })"
        ".sort({ ts: -1 }).skip(5).limit(10).hint({ status: 1 })",
        "shop",
    )
    assert parsed.database == "shop"
    assert parsed.command == {
        "find": "orders",
        "filter": {"status": "A", "qty": {"$lt": 30}},
        "projection": {"_id": 0},
        "sort": {"ts": -1},
        "skip": 5,
        "limit": 10,
        "hint": {"status": 1},
    }


def test_database_and_collection_spellings():
    assert parse('db.getSiblingDB("crm").getCollection("zähler").find()').database == "crm"
    assert parse('db.getSiblingDB("crm").getCollection("zähler").find()').command["find"] == (
        "zähler"
    )
    assert parse('db["odd name"].find({})', "x").command["find"] == "odd name"
    assert parse("db.orders.archive.find({})", "x").command["find"] == "orders.archive"
    assert parse("db.städte.find({ größe: 1 })", "x").command["filter"] == {"größe": 1}


def test_js_literals():
    parsed = parse(
        'db.c.find({ _id: ObjectId("65a1f0c2e4b0a1b2c3d4e5f6"), at: ISODate("2024-05-01"), '
        'n: NumberLong("5"), i: NumberInt(3), u: UUID("3b241101-e2bb-4255-8caf-4136c566a962"), '
        "r: /^a\\/b[/]c/i, t: true, f: false, z: null, neg: -1.5e3, "
        'b: BinData(0, "AAE="), d: new Date(0) })  // comment',
        "x",
    )
    flt = parsed.command["filter"]
    assert flt["_id"] == ObjectId("65a1f0c2e4b0a1b2c3d4e5f6")
    assert flt["at"] == dt.datetime(2024, 5, 1)
    assert flt["n"] == Int64(5) and flt["i"] == 3
    assert isinstance(flt["u"], Binary) and flt["u"].subtype == 4
    assert flt["r"] == Regex("^a\\/b[/]c", "i")
    assert flt["t"] is True and flt["f"] is False and flt["z"] is None
    assert flt["neg"] == -1500.0
    assert flt["b"] == b"\x00\x01"
    assert flt["d"] == dt.datetime(1970, 1, 1)


def test_extended_json_command_document():
    parsed = parse(
        '{"find": "orders", "filter": {"_id": {"$oid": "65a1f0c2e4b0a1b2c3d4e5f6"}, '
        '"n": {"$numberLong": "7"}}, "$db": "shop"}'
    )
    assert parsed.database == "shop"
    assert parsed.command == {
        "find": "orders",
        "filter": {"_id": ObjectId("65a1f0c2e4b0a1b2c3d4e5f6"), "n": Int64(7)},
    }


def test_other_methods():
    assert parse("db.o.aggregate([{ $match: { a: 1 } }], { allowDiskUse: true })", "x").command == {
        "aggregate": "o",
        "pipeline": [{"$match": {"a": 1}}],
        "cursor": {},
        "allowDiskUse": True,
    }
    assert parse("db.o.countDocuments({ a: 1 })", "x").command["pipeline"][0] == {
        "$match": {"a": 1}
    }
    assert parse("db.o.find({ a: 1 }).count()", "x").command == {"count": "o", "query": {"a": 1}}
    assert parse("db.o.distinct('k', { a: 1 })", "x").command == {
        "distinct": "o",
        "key": "k",
        "query": {"a": 1},
    }
    update = parse("db.o.updateMany({ a: 1 }, { $set: { b: 2 } }, { upsert: true })", "x")
    assert update.command == {
        "update": "o",
        "updates": [{"q": {"a": 1}, "u": {"$set": {"b": 2}}, "multi": True, "upsert": True}],
    }
    assert parse("db.o.deleteOne({ a: 1 })", "x").command["deletes"] == [
        {"q": {"a": 1}, "limit": 1}
    ]
    fam = parse("db.o.findOneAndUpdate({ a: 1 }, { $inc: { n: 1 } }, { sort: { p: -1 } })", "x")
    assert fam.command == {
        "findAndModify": "o",
        "query": {"a": 1},
        "update": {"$inc": {"n": 1}},
        "sort": {"p": -1},
    }
    assert parse("db.o.findOne({ a: 1 })", "x").command["limit"] == 1


def test_explain_verbosity_in_the_text():
    parsed = parse('db.o.explain("executionStats").find({ a: 1 })', "x")
    assert parsed.verbosity == "executionStats"
    assert parsed.command == {"find": "o", "filter": {"a": 1}}
    assert parse("db.o.find({ a: 1 }).explain()", "x").verbosity is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("db.orders.find({ a: 1", "expected '}'"),
        ("select * from orders", "expected db.<collection>"),
        ("db.orders.insertOne({ a: 1 })", "insertOne(…) cannot be explained"),
        ("db.orders", "say what to explain"),
        ("db.find()", "name a collection"),
        ("db.o.find({ a: 'x })", "unclosed string"),
        ("db.o.find({ a: Foo(1) })", "invalid Foo"),
        ("db.o.find({ a: bar })", "unknown name 'bar'"),
        ('{"find": "o", "filter": {"x": {"$oid": "nope"}}}', "invalid Extended JSON"),
        ("db.o.find({}).frobnicate(1)", "frobnicate"),
        ("{}", "empty"),
    ],
)
def test_errors_are_one_clear_line(text, message):
    with pytest.raises(QueryError) as err:
        parse(text, "x")
    assert message in str(err.value)
    assert "\n" not in str(err.value)
