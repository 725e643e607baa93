#!/usr/bin/env bash
# DocSTN on one machine with real processes: redis-server (started when none answers), the API and N workers.
#   deploy/local.sh [run]   start everything, wait; Ctrl-C stops it all cleanly
#   deploy/local.sh start   start in the background (pids and logs in run/local/)
#   deploy/local.sh stop    stop what `start` started
#   deploy/local.sh status
# Settings: WORKERS (2), PORT (8000), REDIS_PORT (6379), PY (.venv/bin/python, else python3), DOCSTN_* variables.
set -euo pipefail
cd "$(dirname "$0")/.."
CMD=${1:-run}
WORKERS=${WORKERS:-2}
PORT=${PORT:-8000}
REDIS_PORT=${REDIS_PORT:-6379}
RUN=${RUN_DIR:-run/local}
mkdir -p "$RUN" && RUN=$(cd "$RUN" && pwd)
if [ -z "${PY:-}" ]; then if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi; fi
export DOCSTN_REDIS_URL=${DOCSTN_REDIS_URL:-redis://127.0.0.1:$REDIS_PORT/0}
export DOCSTN_JOB_STORE=${DOCSTN_JOB_STORE:-$RUN/jobs}

redis_answers() { "$PY" -c "import redis, sys; redis.Redis.from_url(sys.argv[1], socket_timeout=1).ping()" \
  "$DOCSTN_REDIS_URL" >/dev/null 2>&1; }

wait_until() {  # wait_until SECONDS WHAT COMMAND...
  local limit=$1 what=$2; shift 2
  for _ in $(seq $((limit * 5))); do "$@" && return 0; sleep 0.2; done
  echo "local.sh: $what did not happen within ${limit}s" >&2; return 1
}

start_one() {  # start_one NAME COMMAND...
  local name=$1; shift
  setsid "$@" >"$RUN/$name.log" 2>&1 < /dev/null &
  echo $! >"$RUN/$name.pid"
  echo "local.sh: started $name (pid $!, log $RUN/$name.log)"
}

stop_one() {  # stop_one PIDFILE: TERM the process group, KILL it after 30 s
  local pidfile=$1 pid
  pid=$(cat "$pidfile" 2>/dev/null) || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
    echo "local.sh: stopped $(basename "$pidfile" .pid)"
  fi
  rm -f "$pidfile"
}

do_start() {
  if ! redis_answers; then
    command -v redis-server >/dev/null || { echo "local.sh: no Redis at $DOCSTN_REDIS_URL and no redis-server" >&2; exit 1; }
    mkdir -p "$RUN/redis"
    start_one redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$RUN/redis" \
      --appendonly yes --appendfsync everysec --maxmemory-policy noeviction
    wait_until 15 "redis-server answering" redis_answers
  fi
  start_one api "$PY" -m service.cli serve --port "$PORT"
  for i in $(seq "$WORKERS"); do start_one "worker-$i" "$PY" -m service.cli worker --name "docstn-$i@%h"; done
  wait_until 120 "API ready on port $PORT" "$PY" -c "import httpx, sys
try: sys.exit(httpx.get('http://127.0.0.1:$PORT/readyz', timeout=2).status_code != 200)
except httpx.HTTPError: sys.exit(1)"
  echo "local.sh: ready: http://127.0.0.1:$PORT/docs ($WORKERS workers, Redis $DOCSTN_REDIS_URL)"
}

do_stop() {
  for f in "$RUN"/worker-*.pid "$RUN"/api.pid; do [ -e "$f" ] && stop_one "$f"; done
  if [ -e "$RUN/redis.pid" ]; then
    "$PY" -c "import redis, sys; redis.Redis.from_url(sys.argv[1], socket_timeout=5).shutdown()" \
      "$DOCSTN_REDIS_URL" >/dev/null 2>&1 || true
    stop_one "$RUN/redis.pid"
  fi
}

case "$CMD" in
  start) do_start || { do_stop; exit 1; } ;;
  stop) do_stop ;;
  status) for f in "$RUN"/*.pid; do [ -e "$f" ] || continue; n=$(basename "$f" .pid); p=$(cat "$f")
            if kill -0 "$p" 2>/dev/null; then echo "$n: running (pid $p)"; else echo "$n: dead (pid $p)"; fi; done ;;
  run)
    trap 'do_stop; exit 0' INT TERM
    do_start || { do_stop; exit 1; }
    echo "local.sh: Ctrl-C to stop"
    while true; do sleep 1; done ;;
  *) echo "usage: $0 [run|start|stop|status]" >&2; exit 2 ;;
esac
