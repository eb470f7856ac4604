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
#   TEECUBE_REQUIRE_GPU_CC=1  serve and engine refuse to start unless `nvidia-smi conf-compute -f`
#                         reports "CC status: ON" (the GPU image's default; 0 for a GPU without
#                         confidential computing, which is then NOT confidential)
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

# A GPU outside confidential-computing mode sees prompts, weights and the KV cache in the clear
# (PCIe, GPU memory): refuse before anything is migrated or loaded. No nvidia-smi is a refusal.
require_gpu_cc() {
  [[ "${TEECUBE_REQUIRE_GPU_CC:-0}" == "1" ]] || return 0
  local status
  if ! status=$(nvidia-smi conf-compute -f 2>&1); then
    log "TEECUBE_REQUIRE_GPU_CC=1 and \`nvidia-smi conf-compute -f\` failed: ${status:-no output}"
    log "refusing to start: the GPU's confidential-computing mode cannot be checked"
    exit 1
  fi
  if ! grep -Eq '^[[:space:]]*CC status:[[:space:]]*ON[[:space:]]*$' <<<"$status"; then
    log "refusing to start: the GPU is not in confidential-computing mode (nvidia-smi: ${status:-no output})"
    log "enable CC mode on the host, or set TEECUBE_REQUIRE_GPU_CC=0 for a deployment that is not confidential"
    exit 1
  fi
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
  serve)
    require_gpu_cc
    migrate
    exec "$TEECUBE_BIN" serve "$@"
    ;;
  proxy)
    migrate
    exec "$TEECUBE_BIN" proxy "$@"
    ;;
  engine)
    require_gpu_cc
    exec "$TEECUBE_BIN" engine "$@"
    ;;
  migrate)
    TEECUBE_MIGRATE=1 migrate
    ;;
  *)
    exec "$TEECUBE_BIN" "$role" "$@"
    ;;
esac
