"""dbtop's own connections on the server: never shown as the server's work, never a kill
target. Each engine registers a connection with its server-side id (a backend pid, a
thread id, a client id, an opid's connection) when it opens it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

H = TypeVar("H")


class OwnConnections(Generic[H]):
    """The connection handles dbtop holds, each with its session id on the server."""

    def __init__(self) -> None:
        self._ids: dict[int, tuple[H, str]] = {}

    def add(self, handle: H, session_id: str | int) -> None:
        self._ids[id(handle)] = (handle, str(session_id))

    def discard(self, handle: H) -> None:
        self._ids.pop(id(handle), None)

    def prune(self, is_gone: Callable[[H], bool]) -> None:
        """Forget connections that have closed (their ids may go to someone else)."""
        for key, (handle, _) in list(self._ids.items()):
            if is_gone(handle):
                del self._ids[key]

    def handles(self) -> list[H]:
        return [handle for handle, _ in self._ids.values()]

    def clear(self) -> None:
        self._ids.clear()

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(session_id for _, session_id in self._ids.values())

    def __contains__(self, session_id: object) -> bool:
        return str(session_id) in self.ids
