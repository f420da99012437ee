"""Prometheus / OpenMetrics: what dbtop sees of each target, served over HTTP.

``TargetMetrics`` follows one poller (give its ``observe_result`` and ``observe_status`` to
the poller, or call them from the poller's own callbacks); ``serve(targets, "HOST:PORT")``
publishes them. A scrape reads the latest snapshot of each target and never queries a
server, so a slow server never slows a scrape and a scrape never adds load.
"""

from dbtop.metrics.collector import FleetCollector
from dbtop.metrics.server import parse_address, serve
from dbtop.metrics.target import TargetMetrics

__all__ = ["FleetCollector", "TargetMetrics", "parse_address", "serve"]
