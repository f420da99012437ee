"""Key names grouped into patterns (``user:*:session``) by their delimiters. Pure.

Two steps. Each key is split at its delimiters and every segment that looks like an id (a
number, a UUID, a hash, a long random token, a number glued to a word) becomes ``*``. Then
the keys go into a tree of segments; where one position fans out into many rare values
(user names, product slugs), those values merge into ``*``, while the frequent ones keep
their own pattern. A key maps to its pattern by walking the collapsed tree.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

#: Split points; braces too, so that a hash tag ``{user:1}`` keeps its shape.
DELIMITERS = frozenset(":/|#.,;{}")
_SPLIT = re.compile(r"([:/|#.,;{}])")
_UUID = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)
_HEX = re.compile(r"^(?=.*\d)[0-9a-fA-F]{8,}$")
_TOKEN = re.compile(r"^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_\-+=]{20,}$")
_NUMBER = re.compile(r"^[+-]?\d+$")
# A run of digits inside a word: "user42", "item_7", "order-2024"; "v1" and "h3" stay.
_DIGITS = re.compile(r"(?<=[_\-=])\d+|\d{2,}")
#: Segments beyond this many are folded into one ``*`` (URLs used as keys, paths …).
MAX_SEGMENTS = 16
WILDCARD = "*"


def tokens(key: str) -> tuple[str, ...]:
    """The key as segments and delimiters, id-like segments already replaced by ``*``."""
    parts = _SPLIT.split(key)
    out: list[str] = []
    segments = 0
    for index, part in enumerate(parts):
        if index % 2:  # a delimiter
            out.append(part)
            continue
        segments += 1
        if segments > MAX_SEGMENTS:
            out.append(WILDCARD)
            break
        out.append(_generalize(part))
    return tuple(out)


def _generalize(segment: str) -> str:
    if not segment:
        return segment
    if _NUMBER.match(segment) or _UUID.match(segment) or _HEX.match(segment):
        return WILDCARD
    if _TOKEN.match(segment):
        return WILDCARD
    return _DIGITS.sub(WILDCARD, segment)


@dataclass(slots=True)
class _Node:
    count: int = 0
    terminal: int = 0
    children: dict[str, _Node] = field(default_factory=dict)


def _merge(into: _Node, other: _Node) -> None:
    into.count += other.count
    into.terminal += other.terminal
    for token, child in other.children.items():
        mine = into.children.get(token)
        if mine is None:
            into.children[token] = child
        else:
            _merge(mine, child)


def _continuations(node: _Node) -> set[tuple[str, ...]]:
    """What follows a segment: each delimiter with the segment after it, or the key's end."""
    follow: set[tuple[str, ...]] = {("$",)} if node.terminal else set()
    for delimiter, after in node.children.items():
        if after.children:
            follow.update((delimiter, segment) for segment in after.children)
        else:
            follow.add((delimiter,))
    return follow


def _find(parent: dict[str, str], item: str) -> str:
    while parent[item] != item:
        parent[item] = parent[parent[item]]
        item = parent[item]
    return item


def _similar_groups(children: dict[str, _Node], candidates: list[str]) -> list[list[str]]:
    """Candidates linked by a shared continuation: values of one id-like position."""
    parent = {c: c for c in candidates}
    owner: dict[tuple[str, ...], str] = {}
    for candidate in candidates:
        for item in _continuations(children[candidate]):
            other = owner.setdefault(item, candidate)
            if other != candidate:
                parent[_find(parent, candidate)] = _find(parent, other)
    groups: dict[str, list[str]] = {}
    for candidate in candidates:
        groups.setdefault(_find(parent, candidate), []).append(candidate)
    return [g for g in groups.values() if len(g) >= 2]


def _collapse(root: _Node, fanout: int, min_share: float) -> None:
    """Merge the values of id-like positions into ``*``.

    A position is looked at when it has more than ``fanout`` distinct values. A value that
    holds at least ``min_share`` of all keys is a namespace of its own and stays; the others
    merge when they are followed by the same things (``alice:profile``, ``bob:profile``),
    so that two small unrelated namespaces are not lumped together.
    """
    protect = max(min_share * root.count, 3)
    todo = [root]
    while todo:
        current = todo.pop()
        if len(current.children) > fanout:
            candidates = [
                t
                for t, child in current.children.items()
                if t not in DELIMITERS and (t == WILDCARD or child.count < protect)
            ]
            merge = [t for group in _similar_groups(current.children, candidates) for t in group]
            if merge:
                merged = current.children.pop(WILDCARD, None) or _Node()
                for token in merge:
                    if token != WILDCARD:
                        _merge(merged, current.children.pop(token))
                current.children[WILDCARD] = merged
        todo.extend(current.children.values())


@dataclass(frozen=True, slots=True)
class Grouping:
    """Which pattern each key belongs to."""

    patterns: dict[str, str]

    def of(self, key: str) -> str:
        return self.patterns[key]


def group_keys(
    keys: Iterable[str],
    *,
    fanout: int = 8,
    min_share: float = 0.02,
    token_cache: dict[str, tuple[str, ...]] | None = None,
) -> Grouping:
    """Map every key to its pattern (see the module's docstring for ``fanout``, ``min_share``)."""
    cache = token_cache if token_cache is not None else {}
    # The tree depends only on how many keys have each token tuple, and most keys share
    # theirs with many others (ids are ``*`` already): it is built from the distinct tuples,
    # each walked once, at thousands of keys a refresh.
    split: dict[str, tuple[str, ...]] = {}
    for key in keys:
        if key in split:
            continue
        toks = cache.get(key)
        if toks is None:
            toks = tokens(key)
            cache[key] = toks
        split[key] = toks
    shapes = Counter(split.values())
    root = _Node()
    for toks, count in shapes.items():
        node = root
        node.count += count
        for token in toks:
            node = node.children.setdefault(token, _Node())
            node.count += count
        node.terminal += count
    _collapse(root, fanout, min_share)
    pattern_of = {toks: _walk(root, toks) for toks in shapes}
    return Grouping({key: pattern_of[toks] for key, toks in split.items()})


def _walk(root: _Node, toks: Sequence[str]) -> str:
    node = root
    path: list[str] = []
    for token in toks:
        child = node.children.get(token)
        if child is None:
            child = node.children.get(WILDCARD)
            token = WILDCARD
        if child is None:  # cannot happen after a merge, but a pattern must always result
            path.append(WILDCARD)
            break
        path.append(token)
        node = child
    pattern = "".join(path)
    return pattern or '""'
