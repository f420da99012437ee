"""Explain for Redis: a command's documented cost set against the keys it would touch.

``explain(query="HGETALL user:1")`` never runs the command. It asks the server what the
command is (COMMAND INFO, COMMAND DOCS for its complexity), which arguments are keys
(COMMAND GETKEYS), and each key's anatomy, then says how much work that is. A bare key name
gives its anatomy; a bare command name its documentation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from dbtop.engines.redis.anatomy import KeyAnatomy, anatomy_node, key_anatomy
from dbtop.engines.redis.client_list import parse_client_list
from dbtop.engines.redis.commands import display_name, join_command, split_command_line
from dbtop.engines.redis.complexity import estimate_work
from dbtop.engines.redis.connection import CommandError, Link
from dbtop.engines.redis.info import integer, keyspace, parse_info, text
from dbtop.errors import NotFoundError, PrivilegeError, QueryError, UsageError
from dbtop.model import Plan, PlanNode, frozen

#: At most this many keys of a multi-key command are inspected.
MAX_KEYS = 16

AnatomyOf = Callable[[bytes], Awaitable[KeyAnatomy]]


@dataclass(frozen=True, slots=True)
class CommandDoc:
    name: str
    words: int
    arity: int | None = None
    flags: tuple[str, ...] = ()
    acl_categories: tuple[str, ...] = ()
    docs: dict[str, Any] = field(default_factory=dict)

    @property
    def complexity(self) -> str | None:
        value = self.docs.get("complexity")
        return text(value) if value is not None else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "arity": self.arity,
            "flags": list(self.flags),
            "acl_categories": list(self.acl_categories),
            "summary": _doc_text(self.docs.get("summary")),
            "since": _doc_text(self.docs.get("since")),
            "group": _doc_text(self.docs.get("group")),
            "complexity": self.complexity,
        }


def _doc_text(value: object) -> str | None:
    return None if value is None or isinstance(value, list) else text(value)


def _pairs(reply: object) -> dict[str, Any]:
    if not isinstance(reply, list):
        return {}
    return {text(k): v for k, v in zip(reply[0::2], reply[1::2], strict=False)}


async def _command_info(link: Link, name: str) -> list[Any] | None:
    reply = await link.call("COMMAND", "INFO", name)
    if not isinstance(reply, list) or not reply or not isinstance(reply[0], list):
        return None
    return reply[0]


async def command_doc(link: Link, words: list[bytes]) -> CommandDoc | None:
    """What the server says about the command in ``words`` (None: no such command)."""
    name = words[0].decode("utf-8", "replace").lower()
    if not name or any(c.isspace() for c in name):
        return None
    info = await _command_info(link, name)
    if info is None:
        return None
    used = 1
    subcommands = info[9] if len(info) > 9 and isinstance(info[9], list) else []
    if subcommands and len(words) > 1:
        sub = f"{name}|{words[1].decode('utf-8', 'replace').lower()}"
        sub_info = await _command_info(link, sub)
        if sub_info is not None:
            name, info, used = sub, sub_info, 2
    docs: dict[str, Any] = {}
    try:
        reply = await link.call("COMMAND", "DOCS", name)
        docs = _pairs(_pairs(reply).get(name))
    except (CommandError, PrivilegeError):  # Redis before 7.0 has no COMMAND DOCS
        docs = {}
    return CommandDoc(
        name=name,
        words=used,
        arity=integer(info[1]) if len(info) > 1 else None,
        flags=tuple(text(f) for f in info[2]) if len(info) > 2 else (),
        acl_categories=tuple(text(c) for c in info[6]) if len(info) > 6 else (),
        docs=docs,
    )


async def command_keys(link: Link, args: list[bytes]) -> list[bytes]:
    """The key arguments, as the server finds them (the command is not run)."""
    try:
        reply = await link.call("COMMAND", "GETKEYS", *args)
    except CommandError as exc:
        message = " ".join(str(exc.reply).split())
        if "no key arguments" in message:
            return []
        raise QueryError(f"{join_command(args)}: {message}") from None
    return [bytes(k) for k in reply] if isinstance(reply, list) else []


def parse_query(query: str) -> list[bytes]:
    try:
        words = split_command_line(query.strip())
    except ValueError as exc:
        raise UsageError(f"cannot read the command line: {exc}") from None
    if not words:
        raise UsageError("the query is empty: give a key name or a command line")
    return words


def key_plan(anatomy: KeyAnatomy) -> Plan:
    node = anatomy_node(anatomy)
    notes = []
    if anatomy.exists and anatomy.ttl_ms is not None and anatomy.ttl_ms < 0:
        notes.append("the key has no TTL: it stays until deleted (or evicted by an allkeys policy)")
    return Plan(
        query=anatomy.name, root=node, raw={"keys": [anatomy.as_dict()]}, notes=tuple(notes)
    )


def command_plan(
    args: list[bytes],
    doc: CommandDoc,
    anatomies: list[KeyAnatomy],
    *,
    db_keys: int | None,
    skipped_keys: int = 0,
    truncated: bool = False,
) -> Plan:
    work = estimate_work(doc.name, args, anatomies, complexity=doc.complexity, db_keys=db_keys)
    notes = [work.explanation]
    if work.large and work.alternative:
        notes.append(f"instead: {work.alternative}")
    elif work.alternative and work.elements is not None and work.elements > 1:
        notes.append(f"if the key grows: {work.alternative}")
    missing = [a.name for a in anatomies if not a.exists]
    if missing:
        notes.append("no such key now: " + ", ".join(missing))
    if skipped_keys:
        notes.append(f"{skipped_keys} more key(s) not inspected")
    if truncated:
        notes.append("the slow log shortened some arguments: a key may be cut short")
    notes.append("dbtop did not run the command; sizes are the keys' sizes now")
    root = PlanNode(
        name=display_name(doc.name),
        detail=doc.complexity or "complexity not documented by this server",
        rows=float(work.elements) if work.elements is not None else None,
        children=tuple(anatomy_node(a) for a in anatomies),
        extra=frozen(doc.as_dict(), estimate=work.explanation, large=work.large),
    )
    return Plan(
        query=join_command(args),
        root=root,
        raw={"command": doc.as_dict(), "keys": [a.as_dict() for a in anatomies]},
        notes=tuple(notes),
    )


def doc_only_plan(doc: CommandDoc, *, query: str, note: str | None = None) -> Plan:
    notes = [doc.complexity or "complexity not documented by this server"]
    if note:
        notes.append(note)
    root = PlanNode(
        name=display_name(doc.name),
        detail=doc.complexity or "complexity not documented by this server",
        extra=frozen(doc.as_dict()),
    )
    return Plan(query=query, root=root, raw={"command": doc.as_dict()}, notes=tuple(notes))


async def explain_query(
    link: Link,
    query: str,
    *,
    anatomy_of: AnatomyOf,
    db: int,
    db_keys: Callable[[], Awaitable[int | None]],
    find_key: AnatomyOf | None = None,
) -> Plan:
    """The plan for a key name or a command line (see the module's docstring).

    ``find_key`` looks a bare key up beyond the URL's database (the Keyspace pane lists the
    keys of every database); command lines run against the URL's database only.
    """
    args = parse_query(query)
    find = find_key or anatomy_of
    if len(args) == 1:
        anatomy = await find(args[0])
        if anatomy.exists:
            return key_plan(anatomy)
        doc = await command_doc(link, args)
        if doc is not None:
            return doc_only_plan(doc, query=display_name(doc.name))
        raise NotFoundError(f"no key {anatomy.name} in db{db}, and no command of that name")
    doc = await command_doc(link, args)
    if doc is None:
        whole = query.strip().encode()
        anatomy = await find(whole)
        if anatomy.exists:
            return key_plan(anatomy)
        word = args[0].decode("utf-8", "backslashreplace")
        raise QueryError(f"unknown command {word!r} (and no key named {anatomy.name})")
    truncated = any(b"more bytes)" in a for a in args)
    keys = await command_keys(link, args)
    inspected = list(dict.fromkeys(keys))[:MAX_KEYS]
    anatomies = [await anatomy_of(key) for key in inspected]
    size = await db_keys() if doc.name in ("keys", "flushdb", "flushall") else None
    return command_plan(
        args,
        doc,
        anatomies,
        db_keys=size,
        skipped_keys=max(len(set(keys)) - len(inspected), 0),
        truncated=truncated,
    )


async def explain_client(link: Link, session_id: str, local: str) -> Plan:
    """What a client's current command costs in general (Redis knows its name only)."""
    if not local.isdigit():
        raise UsageError(f"{session_id} is not a client: explain takes a client id")
    rows = parse_client_list(await link.call("CLIENT", "LIST", "ID", int(local)))
    if not rows:
        raise NotFoundError(f"no client {session_id}")
    cmd = rows[0].get("cmd", "")
    words = [w.encode() for w in cmd.split("|") if w and w != "NULL"]
    doc = await command_doc(link, words) if words else None
    if doc is None:
        raise NotFoundError(f"client {session_id} has not run a command yet")
    return doc_only_plan(
        doc,
        query=doc.name.upper().replace("|", " "),
        note="Redis reports a client's command name, not its arguments: explain the "
        "slow-log entry or the command line to see the keys it touches",
    )


async def find_in_databases(
    link: Link, key: bytes, *, db: int, seen: set[int]
) -> KeyAnatomy | None:
    """The key in the first database other than ``db`` that has it (``seen``: the databases
    that had keys at the last poll, else INFO keyspace's)."""
    dbs = seen or set(keyspace(parse_info(await link.call("INFO", "keyspace"))))
    others = [other for other in sorted(dbs) if other != db]
    if not others:
        return None
    replies = await link.pipeline([c for d in others for c in (["SELECT", d], ["EXISTS", key])])
    for other, exists in zip(others, replies[1::2], strict=True):
        if integer(exists) == 1:
            return await key_anatomy(link, key, db=other, select=True)
    return None


async def count_keys(links: list[Link], *, db: int | None) -> int | None:
    """DBSIZE of ``db`` on one server, or the sum over a cluster's masters (``db`` None)."""
    if db is not None:
        replies = await links[0].pipeline([["SELECT", db], ["DBSIZE"]])
        return integer(replies[-1])
    total = 0
    for link in links:
        total += integer(await link.call("DBSIZE"), 0) or 0
    return total
