#!/usr/bin/env bash
# Throwaway PostgreSQL 15 + pgvector and Redis for Engram's full test suite, on Debian.
#
#   scripts/services.sh start   install what is missing (and the deployment tools), start both on loopback ports, print env
#   scripts/services.sh env     print the env lines for services already started
#   scripts/services.sh stop    stop both and delete their data
#
# `start` prints, on stdout, lines to eval:
#   ENGRAM_TEST_POSTGRES_URL=postgres://engram:engram@127.0.0.1:<port>/engram_test
#   ENGRAM_TEST_REDIS_URL=redis://127.0.0.1:<port>
#   ENGRAM_TEST_DEPLOY_TOOLS=1   (docker-compose, promtool and prometheus are installed)
#   ENGRAM_TEST_CHROMIUM=/usr/bin/chromium   (Debian's chromium, for the web UI's browser tests)
# Progress goes to stderr. Needs root (or sudo) for apt and to run PostgreSQL as `postgres`.
#
# pgvector: Debian 12 ships 0.4 (no HNSW), so it is built from Debian's `pgvector` source package
# of suite trixie (a temporary deb-src entry, removed afterwards) against PostgreSQL 15's pg_config.
#
# Settings (environment): ENGRAM_SERVICES_DIR (state, default /tmp/engram-services),
# ENGRAM_PG_PORT (default 55432), ENGRAM_REDIS_PORT (default 56379).
set -euo pipefail

STATE_DIR="${ENGRAM_SERVICES_DIR:-/tmp/engram-services}"
PG_PORT="${ENGRAM_PG_PORT:-55432}"
REDIS_PORT="${ENGRAM_REDIS_PORT:-56379}"
PG_BIN=/usr/lib/postgresql/15/bin
PG_DATA="$STATE_DIR/pg"
SRC_LIST=/etc/apt/sources.list.d/engram-trixie-src.sources

log() { echo "services: $*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"; else as_root runuser -u postgres -- "$@"; fi
}

apt_updated=no
apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$apt_updated" = no ]; then
    log "apt-get update"
    as_root apt-get update -qq >&2
    apt_updated=yes
  fi
  log "installing ${missing[*]}"
  mkdir -p "$STATE_DIR"
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >"$STATE_DIR/apt.log" 2>&1; then
    cat "$STATE_DIR/apt.log" >&2
    return 1
  fi
}

pgvector_installed() {
  local sharedir
  sharedir="$("$PG_BIN/pg_config" --sharedir)"
  # HNSW needs pgvector ≥ 0.5; Debian 12's own package is 0.4.
  compgen -G "$sharedir/extension/vector--0.[5-9]*.sql" >/dev/null ||
    compgen -G "$sharedir/extension/vector--[1-9]*.sql" >/dev/null
}

build_pgvector() {
  pgvector_installed && return 0
  apt_install postgresql-server-dev-15 build-essential dpkg-dev
  log "building pgvector from Debian's trixie source package"
  local work
  work="$(mktemp -d)"
  as_root tee "$SRC_LIST" >/dev/null <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # The extra entry is removed whatever happens below, and the package lists are refreshed.
  trap 'as_root rm -f "$SRC_LIST"; as_root apt-get update -qq >&2 || true; rm -rf "$work"; trap - RETURN' RETURN
  as_root apt-get update -qq >&2
  (cd "$work" && apt-get source -qq pgvector >&2)
  local dir
  dir="$(find "$work" -maxdepth 1 -mindepth 1 -type d -name 'pgvector-*' | head -n 1)"
  [ -n "$dir" ] || { log "apt-get source pgvector produced no source tree"; return 1; }
  make -s -C "$dir" PG_CONFIG="$PG_BIN/pg_config" >&2
  as_root make -s -C "$dir" PG_CONFIG="$PG_BIN/pg_config" install >&2
  pgvector_installed || { log "pgvector built but its extension files are missing"; return 1; }
}

pg_running() { [ -f "$PG_DATA/postmaster.pid" ] && as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; }

start_postgres() {
  apt_install postgresql-15
  build_pgvector
  mkdir -p "$STATE_DIR"
  as_root chown postgres "$STATE_DIR" 2>/dev/null || true
  if ! [ -f "$PG_DATA/PG_VERSION" ]; then
    log "initdb $PG_DATA"
    as_postgres "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if ! pg_running; then
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w \
      -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=$PG_DATA -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null
  fi
  local psql=(env PGOPTIONS="-c client_min_messages=warning" "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qAt)
  if [ "$("${psql[@]}" -d postgres -c "SELECT 1 FROM pg_roles WHERE rolname = 'engram'")" != 1 ]; then
    "${psql[@]}" -d postgres -c "CREATE ROLE engram LOGIN PASSWORD 'engram' CREATEDB" >/dev/null
  fi
  # A second role that owns nothing, for the tests of what a role that is not the owner may do.
  if [ "$("${psql[@]}" -d postgres -c "SELECT 1 FROM pg_roles WHERE rolname = 'engram_guest'")" != 1 ]; then
    "${psql[@]}" -d postgres -c "CREATE ROLE engram_guest LOGIN PASSWORD 'engram_guest'" >/dev/null
  fi
  if [ "$("${psql[@]}" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'engram_test'")" != 1 ]; then
    "${psql[@]}" -d postgres -c "CREATE DATABASE engram_test OWNER engram" >/dev/null
  fi
  # The extension needs a superuser; the application role then only uses it.
  "${psql[@]}" -d engram_test -c "CREATE EXTENSION IF NOT EXISTS vector" >/dev/null
  "${psql[@]}" -d engram_test -c "SELECT extversion FROM pg_extension WHERE extname = 'vector'" |
    sed 's/^/services: pgvector /' >&2
}

start_redis() {
  apt_install redis-server
  mkdir -p "$STATE_DIR"
  if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then return 0; fi
  log "starting Redis on 127.0.0.1:$REDIS_PORT"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$STATE_DIR/redis.pid" --logfile "$STATE_DIR/redis.log" >/dev/null
  for _ in $(seq 1 50); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  log "Redis did not answer on port $REDIS_PORT"
  return 1
}

# The deployment checks (test/deploy): Compose model validation and Prometheus (promtool, and a
# real server that scrapes Engram). Debian's docker-compose is v1.29: it validates against an
# older Compose schema, so what it accepts is also valid for Compose v2. Chromium runs the web
# UI's browser tests (test/ui, through playwright-core).
install_deploy_tools() {
  apt_install docker-compose prometheus chromium
  # Debian's prometheus package starts a system service where an init system runs; the tests start their own.
  as_root sh -c 'command -v systemctl >/dev/null && systemctl disable --now prometheus prometheus-node-exporter' >/dev/null 2>&1 || true
}

deploy_tools_installed() { command -v docker-compose >/dev/null && command -v promtool >/dev/null && command -v prometheus >/dev/null; }

print_env() {
  echo "ENGRAM_TEST_POSTGRES_URL=postgres://engram:engram@127.0.0.1:$PG_PORT/engram_test"
  echo "ENGRAM_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT"
  if deploy_tools_installed; then echo "ENGRAM_TEST_DEPLOY_TOOLS=1"; fi
  if [ -x /usr/bin/chromium ]; then echo "ENGRAM_TEST_CHROMIUM=/usr/bin/chromium"; fi
}

stop_all() {
  if [ -f "$PG_DATA/PG_VERSION" ]; then
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
  fi
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  as_root rm -rf "$STATE_DIR"
}

case "${1:-}" in
  start)
    start_postgres
    start_redis
    install_deploy_tools
    print_env
    ;;
  env) print_env ;;
  stop) stop_all ;;
  *)
    echo "usage: $0 start|env|stop" >&2
    exit 2
    ;;
esac
