#!/usr/bin/env bash
# The one entrypoint of both images (deploy/docker/Dockerfile.cpu, Dockerfile.gpu), also
# runnable from a checkout: deploy/docker/entrypoint.sh ROLE [ARGS...]
#
#   serve ARGS    wait for the database, `teecube db upgrade`, exec `teecube serve ARGS`
#   proxy ARGS    wait for the database, `teecube db upgrade`, exec `teecube proxy ARGS`
#   engine ARGS   exec `teecube engine ARGS` (the engine has no database)
#   migrate       wait for the database, `teecube db upgrade`, exit (Kubernetes Job)
#   other ...     exec `teecube other ...` (e.g. `admin key create ...`, `db current`)
#
# Environment:
#   TEECUBE_DATABASE_URL  the database (default: SQLite var/teecube.db, see `teecube db --help`)
#   TEECUBE_MIGRATE=0     skip `teecube db upgrade` (proxy replicas when a Job migrates)
#   TEECUBE_DB_WAIT=60    seconds to wait for the database before giving up
#   TEECUBE_BIN=teecube   the CLI to run (a path, for checkouts without it on PATH)
set -euo pipefail

TEECUBE_BIN="${TEECUBE_BIN:-teecube}"

log() { printf 'entrypoint: %s\n' "$*" >&2; }

# `teecube db current` opens a connection and reads the revision table: it fails until the
# database accepts connections (and prints the URL with the password hidden).
wait_for_db() {
  local deadline=$((SECONDS + ${TEECUBE_DB_WAIT:-60}))
  until "$TEECUBE_BIN" db current >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "the database did not answer within ${TEECUBE_DB_WAIT:-60}s:"
      "$TEECUBE_BIN" db current >&2 || true
      exit 1
    fi
    sleep 1
  done
}

migrate() {
  wait_for_db
  if [[ "${TEECUBE_MIGRATE:-1}" == "0" ]]; then
    log "TEECUBE_MIGRATE=0: not migrating"
    return
  fi
  log "migrating the database"
  "$TEECUBE_BIN" db upgrade >&2
}

if (($# == 0)); then
  log "usage: entrypoint.sh serve|proxy|engine|migrate|<teecube subcommand> [ARGS...]"
  exit 2
fi

role="$1"
shift
case "$role" in
  serve | proxy)
    migrate
    exec "$TEECUBE_BIN" "$role" "$@"
    ;;
  engine)
    exec "$TEECUBE_BIN" engine "$@"
    ;;
  migrate)
    TEECUBE_MIGRATE=1 migrate
    ;;
  *)
    exec "$TEECUBE_BIN" "$role" "$@"
    ;;
esac
