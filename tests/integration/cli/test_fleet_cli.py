"""``dbtop GROUP`` on a real terminal: the group of the config file opens the fleet
overview (not the one-server UI), a server that is down is shown reconnecting with why
instead of ending the app, and q leaves with status 0."""

from __future__ import annotations

import pytest

from tests.ptyrun import run_with_answer
from tests.servers.postgres import free_port

pytestmark = pytest.mark.redis


def test_a_group_opens_the_overview_and_a_down_server_does_not_end_it(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(
        '[targets.app-cache]\nurl = "redis://127.0.0.1:6379"\n\n'
        f'[targets.old-cache]\nurl = "redis://127.0.0.1:{free_port()}"\n\n'
        '[groups]\napp = ["app-cache", "old-cache"]\n'
    )
    run = run_with_answer(
        ["app", "--interval", "0.5"],
        "q",
        prompt="cannot reach",
        env={"DBTOP_CONFIG": str(config), "XDG_CONFIG_HOME": str(tmp_path), "TERM": "xterm"},
        timeout=30,
    )
    assert run.code == 0, run.output[-2000:]
    assert "cannot reach" in run.output and "app-cache" in run.output
    assert "dbtop fleet" in run.output


def test_one_keymap_remaps_the_fleet_keys_for_both_uis(tmp_path):
    (tmp_path / "dbtop").mkdir()
    (tmp_path / "dbtop" / "keymap.toml").write_text('[keymap]\n"fleet.next" = "n"\n')
    config = tmp_path / "config.toml"
    config.write_text('[targets.a]\nurl = "redis://127.0.0.1:6379"\n')
    run = run_with_answer(
        ["a", "--interval", "0.5"],  # one target: the one-server UI, same keymap file
        "q",
        prompt="Clients",
        env={"DBTOP_CONFIG": str(config), "XDG_CONFIG_HOME": str(tmp_path), "TERM": "xterm"},
        timeout=30,
    )
    assert run.code == 0, run.output[-2000:]
