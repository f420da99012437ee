"""Server values made safe to keep in a Snapshot: plain, immutable, JSON-friendly, bounded."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from bson import Decimal128, Int64, ObjectId, Timestamp
from bson.binary import Binary
from bson.datetime_ms import DatetimeMS

from dbtop.engines.mongodb import shell

#: nesting kept in ``extra`` values; deeper parts become their mongosh text
MAX_DEPTH = 6
#: items of a list kept in ``extra`` values
MAX_ITEMS = 50


def plain(value: Any, depth: int = 0) -> Any:
    """``value`` as str / int / float / bool / None / datetime, tuples and frozen mappings."""
    if value is None or isinstance(value, bool | str | float):
        return value
    if isinstance(value, Int64 | int):
        return int(value)
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, ObjectId | Decimal128 | uuid.UUID):
        return str(value)
    if isinstance(value, Binary) and value.subtype in (3, 4) and len(value) == 16:
        return str(uuid.UUID(bytes=bytes(value)))
    if isinstance(value, Timestamp):
        return value.as_datetime()
    if isinstance(value, DatetimeMS):
        return shell.value_text(value)
    if isinstance(value, Mapping):
        if depth >= MAX_DEPTH:
            return shell.value_text(value, 200)
        return MappingProxyType({str(k): plain(v, depth + 1) for k, v in value.items()})
    if isinstance(value, list | tuple):
        if depth >= MAX_DEPTH:
            return shell.value_text(list(value), 200)
        return tuple(plain(v, depth + 1) for v in value[:MAX_ITEMS])
    return shell.value_text(value, 200)


def text(value: Any) -> str | None:
    """A short string for a name-like field (appName, desc, client), None when absent."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return shell.value_text(value, 200)


def as_utc(value: Any) -> dt.datetime | None:
    """A BSON date or an ISO-8601 string (currentOp's currentOpTime) as an aware datetime."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return None
