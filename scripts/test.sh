#!/usr/bin/env bash
# The one test command (README and .ci/run): installs dbtop with its test extra into .venv,
# brings up the servers the tests need, and runs the whole suite. Extra arguments go to
# pytest (e.g. `scripts/test.sh tests/unit -x`).
set -eu
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

bash scripts/test-services.sh

set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
# pytest's 5 means "no test collected": for a filtered run that is not a failure of ours.
if [ "$status" = 5 ]; then
  echo "no tests collected"
  exit 0
fi
exit "$status"
