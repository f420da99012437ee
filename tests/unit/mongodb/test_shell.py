"""mongosh rendering: every BSON type readable, huge commands bounded, control characters
never raw."""

import datetime as dt
import re
import uuid

from bson import Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Timestamp
from bson.binary import Binary
from bson.datetime_ms import DatetimeMS
from bson.regex import Regex

from dbtop.engines.mongodb import shell
from dbtop.engines.mongodb.querytext import parse


def test_scalars():
    oid = ObjectId("65a1f0c2e4b0a1b2c3d4e5f6")
    u = uuid.UUID("3b241101-e2bb-4255-8caf-4136c566a962")
    doc = {
        "oid": oid,
        "at": dt.datetime(2024, 5, 1, 12, 30, 1, 500000),
        "big": Int64(2**40),
        "dec": Decimal128("1.10"),
        "u": Binary.from_uuid(u),
        "raw": b"\x00\x01",
        "re": Regex("^ab/c", "i"),
        "pre": re.compile("x", re.I | re.M),
        "ts": Timestamp(1700000000, 3),
        "nan": float("nan"),
        "inf": float("-inf"),
        "min": MinKey(),
        "max": MaxKey(),
        "code": Code("function() {}"),
        "far": DatetimeMS(10**15),
        "none": None,
        "yes": True,
    }
    text = shell.value_text(doc)
    assert 'oid: ObjectId("65a1f0c2e4b0a1b2c3d4e5f6")' in text
    assert 'at: ISODate("2024-05-01T12:30:01.500Z")' in text
    assert f"big: {2**40}" in text
    assert 'dec: Decimal128("1.10")' in text
    assert f'u: UUID("{u}")' in text
    assert 'raw: BinData(0, "AAE=")' in text
    assert "re: /^ab\\/c/i" in text
    assert "pre: /x/im" in text
    assert "ts: Timestamp({ t: 1700000000, i: 3 })" in text
    assert "nan: NaN" in text and "inf: -Infinity" in text
    assert "min: MinKey()" in text and "max: MaxKey()" in text
    assert 'code: Code("function() {}")' in text
    assert "far: new Date(1000000000000000)" in text
    assert "none: null" in text and "yes: true" in text


def test_keys_are_quoted_when_not_identifiers():
    text = shell.value_text({"a.b": 1, "$gt": 2, "städte": 3, "with space": 4})
    assert text == '{ "a.b": 1, $gt: 2, "städte": 3, "with space": 4 }'


def test_control_characters_are_escaped():
    text = shell.value_text({"\x1b[31mkey": "\x1b[2J\x07bell"})
    assert "\x1b" not in text and "\x07" not in text
    assert "\\u001b" in text


def test_huge_command_is_bounded_and_cheap():
    blob = "x" * 100_000
    command = {"insert": "events", "documents": [{"blob": blob, "n": n} for n in range(10_000)]}
    assert shell.command_text(command) == "db.events.insertMany(<10000 documents>)"
    pipeline = {"aggregate": "e", "pipeline": [{"$match": {"k": i}} for i in range(50_000)]}
    text = shell.command_text(pipeline, limit=500)
    assert len(text) <= 501 and text.endswith("…")
    assert shell.value_text({"s": "y" * 1_000_000}, 300).count("y") <= shell.MAX_STRING
    long_binary = shell.value_text(Binary(b"\x01" * 10_000, 5))
    assert long_binary.startswith("BinData(5, ") and "…" in long_binary
    deep: dict = {}
    cursor = deep
    for _ in range(100):
        cursor["d"] = {}
        cursor = cursor["d"]
    assert "{…}" in shell.value_text(deep)
    many = shell.value_text(list(range(1000)))
    assert "… 960 more" in many


def test_commands_in_mongosh_form():
    assert (
        shell.command_text(
            {
                "find": "orders",
                "filter": {"a": 1},
                "projection": {"a": 1},
                "sort": {"b": -1},
                "skip": 5,
                "limit": 10,
                "lsid": {"id": 1},
                "$db": "shop",
            }
        )
        == "db.orders.find({ a: 1 }, { a: 1 }).sort({ b: -1 }).skip(5).limit(10)"
    )
    assert shell.command_text({"aggregate": 1, "pipeline": [{"$currentOp": {}}]}) == (
        "db.aggregate([{ $currentOp: {} }])"
    )
    assert (
        shell.command_text(
            {
                "update": "o",
                "updates": [{"q": {"a": 1}, "u": {"$set": {"b": 2}}, "upsert": True}] * 3,
            }
        )
        == "db.o.updateOne({ a: 1 }, { $set: { b: 2 } }, { upsert: true })  (+2 more)"
    )
    assert shell.command_text({"delete": "o", "deletes": [{"q": {}, "limit": 0}]}) == (
        "db.o.deleteMany({})"
    )
    assert shell.command_text({"ping": 1}) == "db.runCommand({ ping: 1 })"
    assert shell.command_text({"getMore": 5, "collection": "o"}) == "getMore on db.o"
    assert shell.command_text({"find": "odd name"}) == 'db.getCollection("odd name").find({})'
    truncated = shell.command_text(
        {"$truncated": '{ find: "o", filter: ...', "comment": 1}, op="query", collection="o"
    )
    assert truncated.startswith("db.o.query(…)  (command truncated by the server: ")
    assert shell.command_text(None) == ""


def test_statement_documents_from_current_op():
    assert (
        shell.command_text(
            {"q": {"_id": 1}, "u": {"$set": {"a": 1}}, "multi": True}, op="update", collection="o"
        )
        == "db.o.updateMany({ _id: 1 }, { $set: { a: 1 } })"
    )
    assert shell.command_text({"q": {"a": 1}, "limit": 1}, op="remove", collection="o") == (
        "db.o.deleteOne({ a: 1 })"
    )


def test_rendered_commands_read_back():
    """What dbtop shows (a sample of a slow query) can be pasted into explain."""
    command = {
        "find": "orders",
        "filter": {
            "_id": ObjectId("65a1f0c2e4b0a1b2c3d4e5f6"),
            "at": {"$gte": dt.datetime(2024, 5, 1)},
            "u": Binary.from_uuid(uuid.UUID(int=5)),
            "name": Regex("^Über", "i"),
            "n": Int64(7),
            "d": Decimal128("2.5"),
            "ts": Timestamp(5, 1),
        },
        "sort": {"at": -1},
        "limit": 3,
    }
    text = shell.command_text(command)
    parsed = parse(text, "shop")
    assert parsed.command["filter"] == command["filter"]
    assert parsed.command["sort"] == {"at": -1} and parsed.command["limit"] == 3
