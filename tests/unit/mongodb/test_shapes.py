"""Query shapes: values replaced, grouping stable, ESR classes right, awkward commands safe."""

import datetime as dt
import re
import uuid

from bson import Int64, ObjectId
from bson.binary import Binary
from bson.regex import Regex

from dbtop.engines.mongodb.normalize import normalize_expression, normalize_filter
from dbtop.engines.mongodb.shapes import shape_of, shape_of_entry, split_namespace
from dbtop.engines.mongodb.shell import PLACEHOLDER


def find(filter_doc, **more):
    return {"find": "orders", "filter": filter_doc, "$db": "shop", **more}


def test_values_are_replaced_and_operators_kept():
    shape = shape_of(
        find({"status": "A", "qty": {"$lt": 30}, "tags": {"$in": ["a", "b", "c"]}}),
        namespace="shop.orders",
    )
    assert shape.text == ("db.orders.find({ status: ?, qty: { $lt: ? }, tags: { $in: [?] } })")
    assert "30" not in shape.text and '"A"' not in shape.text


def test_same_shape_whatever_the_values_and_the_key_order():
    a = shape_of(find({"status": "A", "qty": {"$lt": 30}}, sort={"ts": -1}, limit=5))
    b = shape_of(find({"qty": {"$lt": 99}, "status": "B"}, sort={"ts": -1}, limit=50))
    assert a.id == b.id


def test_sort_direction_limit_and_projection_make_different_shapes():
    base = shape_of(find({"a": 1}, sort={"ts": -1}))
    assert shape_of(find({"a": 1}, sort={"ts": 1})).id != base.id
    assert shape_of(find({"a": 1}, sort={"ts": -1}, limit=1)).id != base.id
    assert shape_of(find({"a": 1}, sort={"ts": -1}, projection={"a": 1})).id != base.id
    assert shape_of(find({"a": {"$gt": 1}}, sort={"ts": -1})).id != base.id


def test_shapes_of_different_namespaces_differ():
    one = shape_of(find({"a": 1}), namespace="shop.orders")
    other = shape_of(find({"a": 1}), namespace="crm.orders")
    assert one.id != other.id
    assert one.database == "shop" and other.database == "crm"


def test_esr_classes():
    shape = shape_of(
        find(
            {
                "customer_id": 4711,
                "status": {"$eq": "A"},
                "kind": {"$in": ["x"]},
                "tags": {"$in": ["a", "b"]},
                "total": {"$gte": 100, "$lt": 500},
                "name": Regex("^ab", "i"),
                "nick": re.compile("x"),
                "deleted": {"$exists": False},
                "flag": {"$ne": True},
                "address": {"city": "Berlin"},
            },
            sort={"created_at": -1, "score": {"$meta": "textScore"}},
            limit=10,
        ),
        namespace="shop.orders",
    )
    assert shape.equality == ("customer_id", "status", "kind", "address")
    assert shape.in_list == ("tags",)
    assert shape.range == ("total", "name", "nick", "deleted", "flag")
    assert shape.sort == (("created_at", -1),)
    assert shape.limit
    assert shape.indexable


def test_and_is_flattened_and_or_is_unindexable():
    flat = shape_of(find({"$and": [{"a": 1}, {"b": {"$gt": 2}}]}))
    assert flat.equality == ("a",) and flat.range == ("b",)
    one_branch = shape_of(find({"$or": [{"a": 1}]}))
    assert one_branch.equality == ("a",) and one_branch.indexable
    branches = shape_of(find({"a": 1, "$or": [{"b": 1}, {"c": 1}]}))
    assert branches.equality == ("a",)
    assert not branches.indexable
    assert "$or" in branches.unindexable[0]


def test_elem_match_names_sub_fields():
    shape = shape_of(find({"items": {"$elemMatch": {"sku": "A-1", "qty": {"$gt": 2}}}}))
    assert shape.equality == ("items.sku",)
    assert shape.range == ("items.qty",)
    scalar = shape_of(find({"scores": {"$elemMatch": {"$gte": 80, "$lt": 85}}}))
    assert scalar.range == ("scores",)


def test_geo_text_where_are_unindexable_by_a_btree():
    near = shape_of(find({"loc": {"$near": {"$geometry": {"type": "Point"}}}}))
    assert not near.indexable and "geo" in near.unindexable[0]
    assert not shape_of(find({"$text": {"$search": "x"}})).indexable
    assert not shape_of(find({"$where": "this.a > 1"})).indexable


def test_expr_keeps_field_paths():
    shape = shape_of(find({"$expr": {"$gt": ["$spent", "$budget"]}, "n": {"$gt": 1}}))
    assert '"$spent"' in shape.text and '"$budget"' in shape.text
    assert normalize_expression({"$add": ["$a", 5]}) == {"$add": ["$a", PLACEHOLDER]}


def test_aggregate_uses_the_leading_match_sort_limit():
    shape = shape_of(
        {
            "aggregate": "orders",
            "pipeline": [
                {"$match": {"status": "A"}},
                {"$match": {"ts": {"$gte": dt.datetime(2024, 1, 1)}}},
                {"$sort": {"ts": -1}},
                {"$limit": 10},
                {"$group": {"_id": "$customer", "n": {"$sum": 1}}},
                {"$match": {"n": {"$gt": 5}}},
            ],
            "cursor": {},
            "$db": "shop",
        }
    )
    assert shape.op == "aggregate"
    assert shape.equality == ("status",)
    assert shape.range == ("ts",)
    assert shape.sort == (("ts", -1),)
    assert shape.limit
    assert '_id: "$customer"' in shape.text
    assert "2024" not in shape.text


def test_aggregate_lookup_keeps_names():
    shape = shape_of(
        {
            "aggregate": "orders",
            "pipeline": [
                {
                    "$lookup": {
                        "from": "customers",
                        "localField": "c",
                        "foreignField": "_id",
                        "as": "customer",
                    }
                },
            ],
            "cursor": {},
        },
        namespace="shop.orders",
    )
    assert '"customers"' in shape.text and '"customer"' in shape.text


def test_statement_level_update_and_delete_from_the_profiler():
    update = shape_of_entry(
        {
            "op": "update",
            "ns": "shop.orders",
            "command": {"q": {"_id": ObjectId()}, "u": {"$set": {"a": 5}}, "multi": False},
        }
    )
    assert update.op == "update"
    assert update.text == "db.orders.updateOne({ _id: ? }, { $set: { a: ? } })"
    assert update.equality == ("_id",)
    delete = shape_of_entry(
        {"op": "remove", "ns": "shop.events", "command": {"q": {"at": {"$lt": 1}}, "limit": 0}}
    )
    assert delete.text == "db.events.deleteMany({ at: { $lt: ? } })"
    assert delete.range == ("at",)


def test_update_and_delete_commands():
    update = shape_of(
        {"update": "orders", "updates": [{"q": {"a": 1}, "u": {"$inc": {"n": 1}}, "multi": True}]}
    )
    assert update.text == "db.orders.updateMany({ a: ? }, { $inc: { n: ? } })"
    delete = shape_of({"delete": "orders", "deletes": [{"q": {"a": 1}, "limit": 1}]})
    assert delete.text == "db.orders.deleteOne({ a: ? })"


def test_find_and_modify_count_distinct():
    fam = shape_of(
        {
            "findAndModify": "jobs",
            "query": {"state": "new"},
            "sort": {"prio": -1},
            "update": {"$set": {"state": "taken"}},
        }
    )
    assert fam.op == "findAndModify"
    assert fam.equality == ("state",) and fam.sort == (("prio", -1),)
    assert "update: { $set: { state: ? } }" in fam.text
    count = shape_of({"count": "orders", "query": {"a": 1}})
    assert count.text == "db.orders.count({ a: ? })"
    distinct = shape_of({"distinct": "orders", "key": "sku", "query": {"a": {"$gt": 1}}})
    assert distinct.text == 'db.orders.distinct("sku", { a: { $gt: ? } })'


def test_getmore_takes_the_originating_command():
    shape = shape_of_entry(
        {
            "op": "getmore",
            "ns": "shop.orders",
            "command": {"getMore": Int64(5), "collection": "orders"},
            "originatingCommand": {"find": "orders", "filter": {"status": "A"}},
        }
    )
    assert shape.op == "find" and shape.equality == ("status",)
    bare = shape_of_entry(
        {"op": "getmore", "ns": "shop.orders", "command": {"getMore": 5, "collection": "orders"}}
    )
    assert bare.op == "getMore" and not bare.indexable


def test_truncated_command_is_grouped_not_parsed():
    shape = shape_of_entry(
        {
            "op": "insert",
            "ns": "shop.orders",
            "command": {"$truncated": "{ insert: ...", "comment": 1},
        }
    )
    assert shape.op == "insert"
    assert "truncated" in shape.text
    assert not shape.indexable
    again = shape_of_entry(
        {
            "op": "insert",
            "ns": "shop.orders",
            "command": {"$truncated": "{ other ...", "comment": 2},
        }
    )
    assert again.id == shape.id


def test_other_commands_and_odd_input():
    shape = shape_of({"createIndexes": "orders", "indexes": []}, namespace="shop.orders")
    assert shape.op == "createIndexes"
    assert shape.text == 'db.runCommand({ createIndexes: "orders" })'
    empty = shape_of(None, op="query", namespace="shop.$cmd")
    assert empty.collection is None
    assert shape_of({"find": "orders", "filter": "not a document"}).equality == ()


def test_non_ascii_and_binary_values():
    shape = shape_of(
        {
            "find": "zähler",
            "filter": {
                "kennung": Binary(b"\x00\xff\x1b[2J", 0),
                "sitzung": Binary.from_uuid(uuid.uuid4()),
                "städte": "München",
            },
        },
        namespace="crm.zähler",
    )
    assert shape.collection == "zähler"
    assert shape.text.startswith('db.getCollection("zähler").find(')
    assert "\x1b" not in shape.text
    assert shape.equality == ("kennung", "sitzung", "städte")


def test_normalize_filter_keeps_structure():
    assert normalize_filter({"a": {"$not": {"$gt": 5}}, "$comment": "x"}) == {
        "a": {"$not": {"$gt": PLACEHOLDER}},
        "$comment": PLACEHOLDER,
    }
    assert normalize_filter("x") is PLACEHOLDER


def test_split_namespace():
    assert split_namespace("shop.orders.archive") == ("shop", "orders.archive")
    assert split_namespace("shop") == ("shop", None)
    assert split_namespace(None) == (None, None)
