"""A loopback TCP proxy in front of a real server that a fault test can stall or refuse.

A server that stops answering after the connection is made (a frozen host, a full disk, a
network partition that keeps the TCP session up) cannot be made from the server itself
without disturbing other tests; a proxy between dbtop and the server can do it to dbtop's
connections only:

- ``stall()``: every connection stays open, nothing is forwarded either way (new
  connections are accepted and stall too);
- ``refuse()``: the listening socket is closed (a new connection is refused) and the
  open connections are reset, like a server that was stopped;
- ``resume()``: forwarding again, listening again on the same port.

Threads, not asyncio, so one proxy serves a sync test (subprocess CLI) and an async test
(the engine in the test's own loop) alike; it is a context manager both ways.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

_POLL_S = 0.05
_CHUNK = 65536


class Proxy:
    """``with Proxy(host, port) as proxy:`` then connect to ``proxy.port`` on 127.0.0.1."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.host = "127.0.0.1"
        self.port = 0
        self._flowing = threading.Event()
        self._flowing.set()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._threads: list[threading.Thread] = []
        self.accepted = 0
        self._marker: bytes | None = None
        #: time.monotonic() of the last stall, for the benchmarks
        self.stalled_at: float | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> Proxy:
        self._listen()
        return self

    def close(self) -> None:
        self._stopped.set()
        self._flowing.set()
        self._close_listener()
        self._reset_all()
        for thread in self._threads:
            thread.join(timeout=2)

    def __enter__(self) -> Proxy:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Proxy:
        return self.start()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- faults ---------------------------------------------------------------------------
    def stall(self) -> None:
        """Keep every connection open and forward nothing, in both directions."""
        self.stalled_at = time.monotonic()
        self._flowing.clear()

    def stall_on(self, marker: bytes) -> None:
        """Stall as soon as the client sends ``marker`` (held, not forwarded): a server that
        stops answering after the connection is made, at a point the test chooses."""
        self._marker = marker

    def refuse(self) -> None:
        """Refuse new connections and reset the open ones: the server is gone."""
        self._close_listener()
        self._reset_all()

    def resume(self) -> None:
        """Forward again (held bytes included) and accept again on the same port."""
        self._marker = None
        if self._listener is None:
            self._listen()
        self._flowing.set()

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    def url(self, template: str) -> str:
        """``template`` with ``{host}`` and ``{port}`` filled with the proxy's address."""
        return template.format(host=self.host, port=self.port)

    # -- internals ------------------------------------------------------------------------
    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # The old listener is released once its accept thread wakes (within _POLL_S).
        for _ in range(100):
            try:
                listener.bind((self.host, self.port))
                break
            except OSError:
                if self.port == 0:
                    raise
                time.sleep(_POLL_S)
        else:
            listener.bind((self.host, self.port))
        listener.listen(64)
        listener.settimeout(_POLL_S)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._spawn(self._accept_loop, listener)

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                listener.close()

    def _reset_all(self) -> None:
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in pair:
                _reset(sock)

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._stopped.is_set() and self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            self.accepted += 1
            with self._lock:
                self._pairs.append((client, upstream))
            self._spawn(self._pump, client, upstream)

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        """Both directions in one thread; bytes read while stalled wait for resume."""
        peer = {client: upstream, upstream: client}
        try:
            while not self._stopped.is_set():
                if not self._flowing.wait(_POLL_S):
                    continue
                readable, _, _ = select.select([client, upstream], [], [], _POLL_S)
                for sock in readable:
                    data = sock.recv(_CHUNK)
                    if not data:
                        return
                    if sock is client and self._marker is not None and self._marker in data:
                        self._marker = None
                        self.stall()
                    while not self._flowing.wait(_POLL_S):
                        if self._stopped.is_set():
                            return
                    peer[sock].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            with self._lock:
                if (client, upstream) in self._pairs:
                    self._pairs.remove((client, upstream))
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.close()


def _reset(sock: socket.socket) -> None:
    """Close with RST (linger 0), as a dead server's kernel would answer."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


def through(url: str, port: int) -> str:
    """``url`` pointed at a proxy on 127.0.0.1:``port`` (user and path kept)."""
    parts = urlsplit(url)
    user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{port}"))


def reachable(host: str, port: int) -> bool:
    """Whether something listens there (a benchmark leaves out a server that is not up)."""
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True
