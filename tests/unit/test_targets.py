"""The config file, the service file and the password sources (no server needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dbtop.errors import UsageError
from dbtop.targets import config, pg_service, resolve_targets, secrets
from dbtop.targets.urls import split_password

CONFIG = """
[targets.prod-db]
url = "postgresql://monitor@db1.internal:5433/app"
read_only = true
interval = 5
statement_timeout = 1.5
password_env = "PROD_PW"

[targets.cache]
url = "redis://cache.internal:6379"

[groups]
prod = ["prod-db", "cache", "mysql://root@127.0.0.1:3306/test"]
"""


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_a_group_opens_its_targets_in_order_with_their_options(tmp_path):
    loaded = config.load(write(tmp_path / "config.toml", CONFIG, 0o644))
    chosen = resolve_targets(["prod"], loaded, {"PROD_PW": "s3cret"})
    assert [t.name for t in chosen] == ["prod-db", "cache", "mysql://root@127.0.0.1:3306/test"]
    db = chosen[0]
    assert (db.read_only, db.interval_s, db.statement_timeout_s) == (True, 5.0, 1.5)
    assert db.password == "s3cret" and "s3cret" not in repr(db) and "s3cret" not in db.url


def test_the_same_target_twice_is_opened_once(tmp_path):
    loaded = config.load(write(tmp_path / "config.toml", CONFIG))
    chosen = resolve_targets(["prod", "cache", "prod-db"], loaded, {"PROD_PW": "x"})
    assert len(chosen) == 3


@pytest.mark.parametrize(
    "body",
    [
        '[targets.a]\nurl = "postgresql://u@h/db"\npassword = "s3cret"\n',
        '[targets.a]\nurl = "postgresql://u:s3cret@h/db"\n',
    ],
)
def test_a_password_in_a_readable_config_is_refused_in_one_line(tmp_path, body):
    path = write(tmp_path / "config.toml", body, 0o644)
    with pytest.raises(UsageError, match="has mode 0644: run chmod 600") as caught:
        config.load(path)
    assert "s3cret" not in str(caught.value)
    path.chmod(0o600)
    (target,) = resolve_targets(["a"], config.load(path), {})
    assert target.password == "s3cret"


def test_the_cli_refuses_a_readable_config_with_a_password_in_one_line(tmp_path):
    path = write(tmp_path / "config.toml", '[targets.a]\nurl = "redis://:s3cret@h"\n', 0o644)
    done = subprocess.run(
        [sys.executable, "-m", "dbtop.cli", "snapshot", "a", "--json"],
        env={**os.environ, "DBTOP_CONFIG": str(path), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "chmod 600" in lines[0] and "s3cret" not in done.stderr


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ('[targets.a]\nurl = "nope"\n', 'needs url = "SCHEME://'),
        ('[targets.a]\nurl = "redis://h"\ncolour = 1\n', "unknown key 'colour'"),
        ('[targets.a]\nurl = "redis://h"\ninterval = 0\n', "between 0.1 and 3600"),
        (
            '[targets.a]\nurl = "redis://h"\npassword_env = "A"\npassword_file = "f"\n',
            "not several",
        ),
        ('[groups]\ng = "a"\n', "must be a list"),
        ("[targets\n", "not valid TOML"),
    ],
)
def test_a_wrong_config_is_one_line(tmp_path, body, needle):
    with pytest.raises(UsageError, match=needle.replace("(", r"\(")) as caught:
        config.load(write(tmp_path / "config.toml", body))
    assert "\n" not in str(caught.value)


def test_an_unknown_name_says_what_it_is_not(tmp_path):
    loaded = config.load(write(tmp_path / "config.toml", CONFIG))
    env = {"PGSERVICEFILE": str(tmp_path / "none"), "PGSYSCONFDIR": str(tmp_path)}
    with pytest.raises(UsageError, match="'nosuch' is not a URL, a target or group"):
        resolve_targets(["nosuch"], loaded, env)


def test_a_group_naming_a_missing_target_is_refused(tmp_path):
    loaded = config.load(write(tmp_path / "config.toml", '[groups]\ng = ["gone"]\n'))
    with pytest.raises(UsageError, match="names 'gone', which is no target"):
        resolve_targets(["g"], loaded, {})


def test_a_password_file_must_be_private(tmp_path):
    secret = write(tmp_path / "pw", "s3cret\nignored\n", 0o640)
    with pytest.raises(UsageError, match="has mode 0640"):
        secrets.from_file("pw", tmp_path)
    secret.chmod(0o600)
    assert secrets.from_file(str(secret), Path("/")) == "s3cret"


def test_a_password_command_runs_without_a_shell_and_hides_its_stderr(tmp_path):
    assert secrets.from_command([sys.executable, "-c", "print('s3cret')"]) == "s3cret"
    # no shell: the semicolon is an argument of echo, not a second command
    assert secrets.from_command("echo 'a;b'") == "a;b"
    failing = [sys.executable, "-c", "import sys; sys.stderr.write('token-xyz'); sys.exit(3)"]
    with pytest.raises(UsageError, match="exit status 3") as caught:
        secrets.from_command(failing)
    assert "token-xyz" not in str(caught.value)
    with pytest.raises(UsageError, match="not found"):
        secrets.from_command(["/nonexistent/secret-tool"])


def test_a_password_env_that_is_unset_is_named(tmp_path):
    with pytest.raises(UsageError, match="PROD_PW, which is not set"):
        secrets.from_env("PROD_PW", {})


SERVICES = """
# a comment
[reporting]
host=db2.internal
port=5433
dbname=reports
user=analyst
sslmode=require
"""


def test_a_service_fills_what_the_url_leaves_out(tmp_path):
    write(tmp_path / "services", SERVICES)
    env = {"PGSERVICEFILE": str(tmp_path / "services"), "PGSYSCONFDIR": str(tmp_path / "x")}
    assert pg_service.service_url("reporting", env) == (
        "postgresql://analyst@db2.internal:5433/reports?sslmode=require"
    )
    assert pg_service.expand("postgresql://me@/other?service=reporting", env) == (
        "postgresql://me@db2.internal:5433/other?sslmode=require"
    )
    (target,) = resolve_targets(["reporting"], config.Config(), env)
    assert (target.name, target.origin) == ("reporting", "service")


def test_the_system_service_file_is_read_when_the_user_has_none(tmp_path):
    write(tmp_path / "pg_service.conf", SERVICES)
    env = {"HOME": str(tmp_path / "home"), "PGSYSCONFDIR": str(tmp_path)}
    assert pg_service.is_service("reporting", env)
    with pytest.raises(UsageError, match="no service 'other'"):
        pg_service.expand("postgresql:///?service=other", env)


def test_passwords_are_split_out_of_urls():
    assert split_password("postgresql://u:p%40ss@h/db") == ("postgresql://u@h/db", "p@ss")
    assert split_password("redis://h?password=x&db=1") == ("redis://h?db=1", "x")
    assert split_password("mysql://root@h/test") == ("mysql://root@h/test", None)
