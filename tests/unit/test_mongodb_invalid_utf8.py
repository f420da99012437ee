"""Issue 11, item 6 for MongoDB: BSON strings are UTF-8 by spec, but a server (or a
driver bug upstream) can still send bytes that are not; the client decodes them with
U+FFFD instead of failing the whole reply (and with it the poll)."""

from __future__ import annotations

import bson

from dbtop.engines.base import ConnectOptions
from dbtop.engines.mongodb.connection import HeartbeatLog, make_client


async def test_the_client_replaces_invalid_utf8_in_replies() -> None:
    client = make_client(
        "mongodb://127.0.0.1:1/", ConnectOptions(), "dbtop-test", 1000, HeartbeatLog()
    )
    try:
        codec = client.codec_options
        assert codec.unicode_decode_error_handler == "replace"
        raw = bson.encode({"appName": "MARKER"}).replace(b"MARKER", b"MARK\xff\xfe")
        assert bson.decode(raw, codec_options=codec)["appName"] == "MARK\ufffd\ufffd"
    finally:
        await client.close()
