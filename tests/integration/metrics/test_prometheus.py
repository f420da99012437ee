"""A real Prometheus (Debian's package; scripts/test-services.sh installs it) scrapes
``dbtop exporter`` and stores its series: both are started here on free ports, with a
private config and storage directory, and stopped at the end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.postgres import free_port
from tests.waiting import wait_until_sync

pytestmark = [pytest.mark.redis, pytest.mark.mysql]

REDIS_URL = "redis://127.0.0.1:6379"
MYSQL_URL = "mysql://root@127.0.0.1:3306/test"


def _get(url: str, *, accept: str | None = None) -> str | None:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=2) as answer:
            return answer.read().decode("utf-8")
    except OSError:
        return None


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    log = (tmp_path / "exporter.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dbtop.cli",
            "exporter",
            REDIS_URL,
            MYSQL_URL,
            "--metrics",
            f"127.0.0.1:{port}",
            "--interval",
            "0.5",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ},
    )
    try:
        wait_until_sync(
            lambda: _get(f"http://127.0.0.1:{port}/metrics") is not None or proc.poll() is not None,
            timeout=20,
            what="the exporter's endpoint",
        )
        assert proc.poll() is None, (tmp_path / "exporter.log").read_text()
        yield port
    finally:
        _stop(proc)
        log.close()


def test_the_endpoint_is_openmetrics_with_bounded_labels(exporter):
    def scraped() -> str | None:
        text = _get(f"http://127.0.0.1:{exporter}/metrics", accept="application/openmetrics-text")
        return text if text and 'dbtop_throughput_per_second{counter="Questions"' in text else None

    wait_until_sync(lambda: scraped() is not None, timeout=20, what="a second MariaDB poll")
    text = scraped()
    assert text is not None and text.rstrip().endswith("# EOF")  # OpenMetrics, not text 0.0.4
    assert f'dbtop_up{{target="{REDIS_URL}"}} 1.0' in text
    assert 'dbtop_target_info{engine="mysql"' in text
    per_target = [
        line
        for line in text.splitlines()
        if line.startswith("dbtop_statement_calls_per_second{") and REDIS_URL in line
    ]
    assert 0 < len(per_target) <= 10


@pytest.mark.skipif(shutil.which("prometheus") is None, reason="no prometheus binary")
def test_prometheus_scrapes_and_stores_the_series(exporter, tmp_path):
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: dbtop\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{exporter}']\n"
    )
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )

    def series(query: str) -> list[dict]:
        text = _get(
            f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": query})
        )
        if text is None:
            return []
        return json.loads(text)["data"]["result"]

    try:
        query = f'dbtop_up{{job="dbtop",target="{REDIS_URL}"}} == 1'
        wait_until_sync(
            lambda: bool(series(query)) or proc.poll() is not None,
            timeout=40,
            what="Prometheus holding dbtop_up",
        )
        assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()[-2000:]
        polls = wait_until_sync(
            lambda: [
                p
                for p in series(f'dbtop_polls_total{{target="{MYSQL_URL}"}}')
                if float(p["value"][1]) >= 1
            ],
            timeout=20,
            what="the MariaDB target's polls in Prometheus",
        )
        assert polls[0]["metric"]["job"] == "dbtop"
        assert series('dbtop_target_info{engine="redis"}')
    finally:
        _stop(proc)
        log.close()
