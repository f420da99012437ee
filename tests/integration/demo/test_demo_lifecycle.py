"""``dbtop demo --serve`` leaves nothing behind: not on Ctrl-C, SIGTERM or SIGHUP, and not
even when it is killed outright (the postmaster follows it, the next start sweeps its data).
As root it runs PostgreSQL as ``embedded_postgres``; as any other user, as that user."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest

from tests.waiting import wait_until_sync

from .conftest import NEEDS_DEMO, alive, cache_dir, start_demo

pytestmark = NEEDS_DEMO


def _wait_gone(pid: int, timeout: float = 10.0) -> bool:
    try:
        wait_until_sync(lambda: not alive(pid), timeout, what=f"process {pid} gone")
    except AssertionError:
        return False
    return True


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=str)
def test_a_stop_signal_removes_the_server_and_its_data(sig: int, tmp_path: Path) -> None:
    demo = start_demo(cache_dir(), log_dir=tmp_path)
    postmaster = demo.postmaster_pid()
    run_dir = demo.run_dir
    assert alive(postmaster) and run_dir.is_dir()
    assert demo.stop(sig) == 0, demo.messages()
    assert _wait_gone(postmaster), "the postmaster outlived the demo that stopped it"
    assert not run_dir.exists()
    assert demo.proc.stdout is not None
    assert demo.proc.stdout.read() == ""  # stdout carried the URL and nothing else
    assert "stopping" in demo.messages()
    templates = [p for p in cache_dir().iterdir() if p.name.startswith("template-")]
    assert len(templates) == 1  # the prepared database stays for the next run


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_a_killed_demo_takes_its_server_along_and_the_next_start_sweeps_it(
    tmp_path: Path,
) -> None:
    first = start_demo(cache_dir(), log_dir=tmp_path)
    postmaster = first.postmaster_pid()
    orphan_dir = first.run_dir
    first.stop(signal.SIGKILL)
    assert _wait_gone(postmaster), "the postmaster outlived the demo that started it"
    assert orphan_dir.exists()  # nobody could clean up: the next start does
    second = start_demo(cache_dir(), log_dir=tmp_path)
    try:
        assert not orphan_dir.exists()
    finally:
        assert second.stop() == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs PostgreSQL as another account")
def test_as_root_an_unreachable_cache_dir_is_one_clear_line(tmp_path: Path) -> None:
    private = Path(tempfile.mkdtemp(prefix="dbtop-demo-private-"))  # mode 700
    try:
        done = subprocess.run(
            [sys.executable, "-m", "dbtop.cli", "demo", "--serve", "--cache-dir", f"{private}/c"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        shutil.rmtree(private)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach" in lines[0], done.stderr


def _interpreter_for_others() -> tuple[str, dict[str, str]] | None:
    """A Python of this version, and the path to dbtop and its dependencies, that an
    unprivileged account can read; None where this machine has none (e.g. pyenv in /root)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = sysconfig.get_paths()["purelib"]
    source = str(Path(__file__).resolve().parents[3] / "src")
    for candidate in (os.path.realpath(sys.executable), f"/usr/bin/{version}"):
        if not os.path.exists(candidate):
            continue
        probe = subprocess.run(
            ["runuser", "-u", "nobody", "--", candidate, "-c", "import asyncpg, dbtop.demo"],
            capture_output=True,
            env={**os.environ, "PYTHONPATH": f"{source}:{site}", "PYTHONDONTWRITEBYTECODE": "1"},
            cwd="/",
            timeout=30,
        )
        if probe.returncode == 0:
            return candidate, {"PYTHONPATH": f"{source}:{site}", "PYTHONDONTWRITEBYTECODE": "1"}
    return None


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("runuser") is None,
    reason="needs root (to switch to an unprivileged account) and runuser (to probe it)",
)
def test_runs_as_an_unprivileged_user(tmp_path: Path) -> None:
    found = _interpreter_for_others()
    if found is None:
        pytest.skip("no Python here that the user nobody can run with dbtop's dependencies")
    python, env = found
    cache = Path(tempfile.gettempdir()) / "dbtop-demo-test-nobody"
    cache.mkdir(exist_ok=True)
    shutil.chown(cache, "nobody")
    demo = start_demo(
        cache,
        command=[python, "-m", "dbtop.cli"],
        env={**env, "HOME": "/nonexistent"},
        log_dir=tmp_path,
        user="nobody",
    )
    postmaster = demo.postmaster_pid()
    assert Path(f"/proc/{postmaster}").stat().st_uid == Path(cache).stat().st_uid
    assert demo.stop() == 0, demo.messages()
    assert _wait_gone(postmaster), "the postmaster outlived the demo that stopped it"
    assert not demo.run_dir.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs PostgreSQL as another account")
def test_as_root_binaries_out_of_reach_are_copied_once_where_the_server_can_run_them() -> None:
    from dbtop.demo.install import Install, find_install, server_account, usable_install

    private = Path(tempfile.mkdtemp(prefix="dbtop-demo-private-"))  # mode 700, like /root
    home = Path(tempfile.mkdtemp(prefix="dbtop-demo-home-"))
    home.chmod(0o755)
    try:
        shipped = find_install()
        hidden = Install(private / "pginstall", "test")
        for part in ("bin", "lib", "share"):
            shutil.copytree(shipped.root / part, hidden.root / part, copy_function=os.link)
        account = server_account()
        usable = usable_install(hidden, account, home)
        assert usable.root == home / "pginstall-test"
        version = subprocess.run(
            [usable.tool("postgres"), "--version"],
            capture_output=True,
            text=True,
            cwd="/",
            timeout=30,
            user=account.uid,
            group=account.gid,
            extra_groups=[],
        )
        assert version.returncode == 0 and "PostgreSQL" in version.stdout, version.stderr
        assert usable_install(hidden, account, home) == usable  # copied once, then reused
    finally:
        shutil.rmtree(private)
        shutil.rmtree(home)


def test_a_cache_dir_too_deep_for_a_socket_gets_a_short_socket_dir(tmp_path: Path) -> None:
    base = Path(tempfile.mkdtemp(prefix="dbtop-demo-deep-"))
    base.chmod(0o755)
    deep = base / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True, mode=0o755)
    try:
        # The template is never written to (each run copies it): hard links to the shared
        # cache's spare a rebuild.
        warm = start_demo(cache_dir(), log_dir=tmp_path)
        assert warm.stop() == 0
        for template in cache_dir().glob("template-*"):
            shutil.copytree(template, deep / template.name, symlinks=True, copy_function=os.link)
        demo = start_demo(deep, log_dir=tmp_path)
        socket_dir = demo.socket_dir
        assert not socket_dir.is_relative_to(deep)
        assert len(str(socket_dir)) < 60
        runs = list(deep.glob("run-*"))
        assert len(runs) == 1
        assert demo.stop() == 0, demo.messages()
        assert not socket_dir.exists() and not runs[0].exists()
    finally:
        shutil.rmtree(base)
