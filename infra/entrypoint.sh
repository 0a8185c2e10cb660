#!/bin/sh
# gridline's one entry point: the image's ENTRYPOINT, and what the tests' process harness runs
# (harness/processes.py), so the roles start the same way in a container and in `make test`.
#
#   entrypoint.sh asgi [uvicorn options]      HTTP + websockets (PORT, HOST, WEB_CONCURRENCY)
#   entrypoint.sh dispatcher [--poll S]       timers, relay, push (run two or more)
#   entrypoint.sh alarm-receiver [options]    the alarm receiver (manage.py alarm_receiver)
#   entrypoint.sh migrate                     manage.py migrate --noinput (the migration Job)
#   entrypoint.sh manage COMMAND [args]       any one-off manage.py job
#   entrypoint.sh healthcheck [asgi|dispatcher]   exit 0 when the role in this container is well
#
# Settings come from the environment only (backend/config/settings.py); the image's defaults
# are GRIDLINE_ENV=production and DJANGO_SETTINGS_MODULE=backend.config.settings.
set -eu

ROLE="${1:-asgi}"
[ "$#" -gt 0 ] && shift
PY="${GRIDLINE_PYTHON:-python3}"
cd "$(dirname "$0")/.."
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-backend.config.settings}"

# prometheus-client's multi-process mode: one directory per process tree (a container, or one
# harness process), emptied when the tree starts so that dead workers' files do not linger.
fresh_metrics_dir() {
  if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    find "$PROMETHEUS_MULTIPROC_DIR" -maxdepth 1 -name '*.db' -delete
  fi
}

# The container's role, for `healthcheck` (Docker runs it as a separate process).
if [ -n "${GRIDLINE_RUN_DIR:-}" ] && [ "$ROLE" != healthcheck ]; then
  mkdir -p "$GRIDLINE_RUN_DIR"
  printf '%s\n' "$ROLE" > "$GRIDLINE_RUN_DIR/role"
  if [ "$ROLE" = dispatcher ]; then
    export DISPATCHER_HEARTBEAT_FILE="${DISPATCHER_HEARTBEAT_FILE:-$GRIDLINE_RUN_DIR/dispatcher.heartbeat}"
  fi
fi

case "$ROLE" in
  asgi)
    fresh_metrics_dir
    # Options given after the role come last and win (click keeps the last value).
    exec "$PY" -m uvicorn backend.config.asgi:application \
      --host "${HOST:-0.0.0.0}" --port "${PORT:-8000}" --workers "${WEB_CONCURRENCY:-1}" \
      --lifespan on --no-access-log --ws-per-message-deflate false \
      --proxy-headers --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1}" \
      --timeout-graceful-shutdown "${GRACEFUL_SHUTDOWN_SECONDS:-20}" "$@"
    ;;
  dispatcher)
    fresh_metrics_dir
    exec "$PY" manage.py dispatcher "$@"
    ;;
  alarm-receiver)
    # The SIA DC-09 receiver (alarm_receiver/): TCP and UDP ports from the settings or options.
    fresh_metrics_dir
    exec "$PY" manage.py alarm_receiver "$@"
    ;;
  migrate)
    exec "$PY" manage.py migrate --noinput "$@"
    ;;
  manage)
    exec "$PY" manage.py "$@"
    ;;
  healthcheck)
    exec "$PY" -m backend.config.healthcheck "$@"
    ;;
  *)
    echo "entrypoint: unknown role '$ROLE' (asgi, dispatcher, alarm-receiver, migrate, manage, healthcheck)" >&2
    exit 64
    ;;
esac
