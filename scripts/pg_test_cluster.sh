#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test suite (never for real data).
#
#   scripts/pg_test_cluster.sh start    # prints the URL on stdout (the only line it prints there)
#   scripts/pg_test_cluster.sh url      # prints the URL of the running cluster
#   scripts/pg_test_cluster.sh status
#   scripts/pg_test_cluster.sh stop     # stops it and deletes its directory
#
#   export KEVIN_TEST_DATABASE_URL="$(scripts/pg_test_cluster.sh start)"
#
# The cluster lives in a fresh temp dir, listens on 127.0.0.1 (port 5432, or the next free one),
# trusts every local connection, and has a database `kevin_test`. The server refuses to run as
# root, so as root the postgres binaries run as the `postgres` user; as anyone else, as yourself.
# The running cluster is recorded in $KEVIN_PG_TEST_STATE (default /tmp/kevin-pg-test.state), so
# several clusters can coexist with different state files.
# Progress and errors go to stderr.
set -euo pipefail

STATE_FILE="${KEVIN_PG_TEST_STATE:-${TMPDIR:-/tmp}/kevin-pg-test.state}"
DB_NAME="${KEVIN_PG_TEST_DB:-kevin_test}"
FIRST_PORT="${KEVIN_PG_TEST_PORT:-5432}"

log() { echo "pg_test_cluster: $*" >&2; }
die() { log "error: $*"; exit 1; }

find_bindir() {
    local dir
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return 0
    fi
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

ensure_postgres() {
    local bindir
    if bindir="$(find_bindir)"; then
        echo "$bindir"
        return 0
    fi
    [[ "$(id -u)" == 0 ]] || die "initdb not found and not root: install PostgreSQL (apt-get install postgresql)"
    log "initdb not found; installing PostgreSQL with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    bindir="$(find_bindir)" || die "PostgreSQL installed but initdb still not found"
    echo "$bindir"
}

# Run a command as the cluster's owner (from /, which the postgres user can always enter).
as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        if command -v runuser >/dev/null 2>&1; then
            (cd / && runuser -u postgres -- "$@")
        else
            (cd / && su postgres -s /bin/bash -c "$(printf '%q ' "$@")")
        fi
    else
        "$@"
    fi
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
    local port
    for ((port = FIRST_PORT; port < FIRST_PORT + 100; port++)); do
        if ! port_in_use "$port"; then
            echo "$port"
            return 0
        fi
    done
    die "no free port in $FIRST_PORT..$((FIRST_PORT + 99))"
}

read_state() {
    [[ -f "$STATE_FILE" ]] || return 1
    # shellcheck disable=SC1090
    source "$STATE_FILE"
    [[ -n "${PGTEST_DIR:-}" && -n "${PGTEST_BINDIR:-}" ]]
}

is_running() {
    read_state && [[ -n "${PGTEST_PORT:-}" ]] && as_owner "$PGTEST_BINDIR/pg_ctl" -D "$PGTEST_DIR/data" status >/dev/null 2>&1
}

url() {
    echo "postgresql+psycopg2://postgres@127.0.0.1:${PGTEST_PORT}/${DB_NAME}"
}

cmd_start() {
    if is_running; then
        log "already running in $PGTEST_DIR on port $PGTEST_PORT"
        url
        return 0
    fi
    if [[ -f "$STATE_FILE" ]]; then
        log "cleaning up the stale cluster recorded in $STATE_FILE"
        cmd_stop >/dev/null 2>&1 || true
    fi

    local bindir dir port
    bindir="$(ensure_postgres)"
    dir="$(mktemp -d "${TMPDIR:-/tmp}/kevin-pg.XXXXXX")"
    chmod 755 "$dir"
    if [[ "$(id -u)" == 0 ]]; then
        id postgres >/dev/null 2>&1 || die "no 'postgres' user to run the server as (it refuses root)"
        chown postgres: "$dir"
    fi
    # Record the directory at once so `stop` can clean up a half-started cluster.
    printf 'PGTEST_DIR=%q\nPGTEST_PORT=%q\nPGTEST_BINDIR=%q\n' "$dir" "" "$bindir" >"$STATE_FILE"

    log "initdb in $dir/data ($("$bindir/initdb" --version))"
    as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C \
        --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }

    port="$(free_port)"
    printf 'PGTEST_DIR=%q\nPGTEST_PORT=%q\nPGTEST_BINDIR=%q\n' "$dir" "$port" "$bindir" >"$STATE_FILE"
    # Test-only settings: durability off for speed; sockets in the cluster dir (no /var/run needed).
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >&2 || { cat "$dir/server.log" >&2 || true; die "pg_ctl start failed"; }

    as_owner "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt \
        -c "CREATE DATABASE \"$DB_NAME\"" >&2 || die "could not create database $DB_NAME"

    PGTEST_PORT="$port"
    log "running on 127.0.0.1:$port (data in $dir); stop with: $0 stop"
    url
}

cmd_stop() {
    if ! read_state; then
        log "no cluster recorded in $STATE_FILE"
        return 0
    fi
    if [[ -d "$PGTEST_DIR/data" ]]; then
        as_owner "$PGTEST_BINDIR/pg_ctl" -D "$PGTEST_DIR/data" -m fast -w stop >&2 2>/dev/null || true
    fi
    case "$PGTEST_DIR" in
        "${TMPDIR:-/tmp}"/kevin-pg.*) rm -rf -- "$PGTEST_DIR" ;;
        *) log "not deleting unexpected directory $PGTEST_DIR" ;;
    esac
    rm -f -- "$STATE_FILE"
    log "stopped"
}

cmd_url() {
    is_running || die "no running cluster (start one with: $0 start)"
    url
}

cmd_status() {
    if is_running; then
        log "running in $PGTEST_DIR on port $PGTEST_PORT"
        url
    else
        log "not running"
        return 1
    fi
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    url) cmd_url ;;
    status) cmd_status ;;
    *) echo "usage: $0 start|stop|url|status" >&2; exit 2 ;;
esac
