"""The HTTP endpoint: ``/metrics`` in the Prometheus text format, or OpenMetrics when the
scraper asks for it (Prometheus does), served from a thread of its own."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server

from dbtop.errors import UsageError
from dbtop.metrics.collector import FleetCollector
from dbtop.metrics.target import TargetMetrics


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT`` (every interface) or ``[::1]:PORT``."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise UsageError(f"--metrics wants HOST:PORT (e.g. 127.0.0.1:9187), not {text!r}")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port_text)


class MetricsServer:
    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def serve(targets: Sequence[TargetMetrics], address: str) -> MetricsServer:
    """Serve the targets' metrics at ``address`` (``HOST:PORT``; port 0 picks a free one)
    until ``close()``; UsageError when the address cannot be bound."""
    host, port = parse_address(address)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(targets))
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise UsageError(f"cannot serve metrics on {address}: {exc.strerror}") from None
    return MetricsServer(server, thread)
