#!/bin/sh
# A local Redis Sentinel group on this machine: a replica of a running Redis, and a sentinel that
# watches it and promotes the replica when the master dies. The Sentinel fault tests start theirs
# through this script (harness/processes.py), and it is how to try REDIS_SENTINELS by hand:
#
#   infra/sentinel.sh replica  DIR PORT MASTER_HOST MASTER_PORT
#   infra/sentinel.sh sentinel DIR PORT MASTER_HOST MASTER_PORT [MASTER_NAME]
#
# e.g. next to infra/services.sh's Redis on 6379:
#   infra/sentinel.sh replica var/redis-replica 6380 127.0.0.1 6379 &
#   infra/sentinel.sh sentinel var/sentinel 26379 127.0.0.1 6379 gridline &
#   REDIS_URL= REDIS_SENTINELS=127.0.0.1:26379 REDIS_SENTINEL_MASTER=gridline make run
#
# Each runs in the foreground (exec: the caller's process id is redis-server's). No persistence,
# as infra/services.sh. A sentinel rewrites its sentinel.conf in DIR with what it learns, and
# keeps it across restarts. Quorum 1 (one sentinel); production runs three (infra/k8s/examples).
# SENTINEL_DOWN_AFTER_MS (default 5000) and SENTINEL_FAILOVER_TIMEOUT_MS (default 60000) are
# Sentinel's own settings of the same names; the tests shorten them.
set -eu

ROLE="${1:-}"
if [ "$#" -lt 5 ]; then
  echo "usage: $0 replica|sentinel DIR PORT MASTER_HOST MASTER_PORT [MASTER_NAME]" >&2
  exit 2
fi
DIR="$2" PORT="$3" MASTER_HOST="$4" MASTER_PORT="$5" NAME="${6:-gridline}"
mkdir -p "$DIR"

case "$ROLE" in
  replica)
    exec redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no \
      --daemonize no --dir "$DIR" --replicaof "$MASTER_HOST" "$MASTER_PORT"
    ;;
  sentinel)
    CONF="$DIR/sentinel.conf"
    if [ ! -f "$CONF" ]; then
      cat > "$CONF" <<CONF
port $PORT
bind 127.0.0.1
daemonize no
dir $DIR
sentinel monitor $NAME $MASTER_HOST $MASTER_PORT 1
sentinel down-after-milliseconds $NAME ${SENTINEL_DOWN_AFTER_MS:-5000}
sentinel failover-timeout $NAME ${SENTINEL_FAILOVER_TIMEOUT_MS:-60000}
CONF
    fi
    exec redis-server "$CONF" --sentinel
    ;;
  *)
    echo "$0: unknown role $ROLE (replica or sentinel)" >&2
    exit 2
    ;;
esac
