"""Parsing of ``INFO`` text: plain ``name:value`` lines, some with ``k=v,k=v`` values.

Pure functions over the server's text, so that every Redis version's quirks are unit-tested.
"""

from __future__ import annotations

from dataclasses import dataclass


def text(reply: object) -> str:
    """A bulk reply as text (server text is not always UTF-8)."""
    if isinstance(reply, bytes | bytearray):
        return bytes(reply).decode("utf-8", "backslashreplace")
    return "" if reply is None else str(reply)


def parse_info(reply: object) -> dict[str, str]:
    """``INFO`` as a flat ``name -> value`` map (section headers and blank lines dropped)."""
    values: dict[str, str] = {}
    for line in text(reply).splitlines():
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition(":")
        if sep:
            values[name.strip()] = value.strip()
    return values


def parse_fields(value: str) -> dict[str, str]:
    """``keys=1,expires=0,avg_ttl=0`` -> ``{"keys": "1", …}``."""
    fields: dict[str, str] = {}
    for part in value.split(","):
        name, sep, item = part.partition("=")
        if sep:
            fields[name.strip()] = item.strip()
    return fields


def number(value: object, default: float | None = None) -> float | None:
    if not isinstance(value, (str, bytes, bytearray, int, float)):
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def integer(value: object, default: int | None = None) -> int | None:
    if not isinstance(value, (str, bytes, bytearray, int, float)):
        return default
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        return default


@dataclass(frozen=True, slots=True)
class DbKeys:
    """One ``dbN`` line of ``INFO keyspace``."""

    db: int
    keys: int
    expires: int
    avg_ttl_ms: int
    subexpiry: int | None = None


def keyspace(info: dict[str, str]) -> dict[int, DbKeys]:
    found: dict[int, DbKeys] = {}
    for name, value in info.items():
        if not (name.startswith("db") and name[2:].isdigit()):
            continue
        fields = parse_fields(value)
        db = int(name[2:])
        found[db] = DbKeys(
            db=db,
            keys=integer(fields.get("keys"), 0) or 0,
            expires=integer(fields.get("expires"), 0) or 0,
            avg_ttl_ms=integer(fields.get("avg_ttl"), 0) or 0,
            subexpiry=integer(fields.get("subexpiry")),
        )
    return dict(sorted(found.items()))


@dataclass(frozen=True, slots=True)
class CommandStat:
    """One ``cmdstat_*`` line: cumulative since start-up or ``CONFIG RESETSTAT``."""

    name: str
    calls: int
    usec: int
    usec_per_call: float | None
    rejected_calls: int
    failed_calls: int


def commandstats(info: dict[str, str]) -> dict[str, CommandStat]:
    stats: dict[str, CommandStat] = {}
    for key, value in info.items():
        if not key.startswith("cmdstat_"):
            continue
        name = key[len("cmdstat_") :]
        fields = parse_fields(value)
        stats[name] = CommandStat(
            name=name,
            calls=integer(fields.get("calls"), 0) or 0,
            usec=integer(fields.get("usec"), 0) or 0,
            usec_per_call=number(fields.get("usec_per_call")),
            rejected_calls=integer(fields.get("rejected_calls"), 0) or 0,
            failed_calls=integer(fields.get("failed_calls"), 0) or 0,
        )
    return stats


def latencystats(info: dict[str, str]) -> dict[str, dict[str, float]]:
    """``latency_percentiles_usec_get:p50=1.003,p99=3.007`` -> ``{"get": {"p50": 1.003, …}}``."""
    prefix = "latency_percentiles_usec_"
    stats: dict[str, dict[str, float]] = {}
    for key, value in info.items():
        if not key.startswith(prefix):
            continue
        figures = {
            name: parsed
            for name, raw in parse_fields(value).items()
            if (parsed := number(raw)) is not None
        }
        stats[key[len(prefix) :]] = figures
    return stats


def errorstats(info: dict[str, str]) -> dict[str, int]:
    """``errorstat_WRONGTYPE:count=3`` -> ``{"WRONGTYPE": 3}``."""
    return {
        key[len("errorstat_") :]: integer(parse_fields(value).get("count"), 0) or 0
        for key, value in info.items()
        if key.startswith("errorstat_")
    }


def version_number(version: str) -> int | None:
    """``7.0.15`` -> 70015 (like PostgreSQL's server_version_num)."""
    parts = version.split(".")
    try:
        major, minor, patch = (int(p) for p in [*parts, "0", "0"][:3])
    except ValueError:
        return None
    return major * 10000 + minor * 100 + patch


def config_map(reply: object) -> dict[str, str]:
    """``CONFIG GET`` (a flat name, value, name, value … list) as a map."""
    if not isinstance(reply, list):
        return {}
    items = [text(v) for v in reply]
    return dict(zip(items[0::2], items[1::2], strict=False))
