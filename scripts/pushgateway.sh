#!/usr/bin/env bash
# A Prometheus Pushgateway for the tests, project-local: Debian's package unpacked into .local/pushgateway (no root,
# nothing installed system-wide), started on a free port of 127.0.0.1 without persistence.
#   bash scripts/pushgateway.sh install   # download and unpack the package (once)
#   bash scripts/pushgateway.sh start     # start it, write .local/pushgateway.env (PUSHGATEWAY_URL=...)
#   bash scripts/pushgateway.sh stop
set -euo pipefail
cd "$(dirname "$0")/.."
LOCAL_DIR=.local
DIR="$LOCAL_DIR/pushgateway"
BIN="$DIR/usr/bin/prometheus-pushgateway"
ENV_FILE="$LOCAL_DIR/pushgateway.env"
PID_FILE="$DIR/pid"
LOG_FILE="$LOCAL_DIR/logs/pushgateway.log"
# Debian 12's package, fetched from the pool when apt cannot download it (no package lists on the machine).
POOL_URL="http://deb.debian.org/debian/pool/main/p/prometheus-pushgateway/prometheus-pushgateway_1.5.1-2+b5_amd64.deb"

log() { echo "[pushgateway] $*"; }
die() { echo "[pushgateway] error: $*" >&2; exit 1; }

cmd_install() {
  if [[ -x "$BIN" ]]; then
    log "installed: $("$BIN" --version 2>&1 | head -1)"
    return 0
  fi
  local download="$LOCAL_DIR/cache/pushgateway"
  rm -rf "$download"
  mkdir -p "$download"
  if ! (cd "$download" && apt-get download prometheus-pushgateway >/dev/null 2>&1); then
    log "apt-get download failed; fetching $POOL_URL"
    curl -fsSL --retry 3 -o "$download/pushgateway.deb" "$POOL_URL" || die "cannot download the package"
  fi
  mkdir -p "$DIR"
  dpkg -x "$download"/*.deb "$DIR"
  [[ -x "$BIN" ]] || die "the package has no $BIN"
  log "installed: $("$BIN" --version 2>&1 | head -1)"
}

cmd_start() {
  [[ -x "$BIN" ]] || die "not installed: run $0 install"
  cmd_stop >/dev/null
  mkdir -p "$(dirname "$LOG_FILE")"
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  setsid "$BIN" --web.listen-address="127.0.0.1:$port" >>"$LOG_FILE" 2>&1 </dev/null &
  echo $! >"$PID_FILE"
  local deadline=$((SECONDS + 30))
  until curl -fs "http://127.0.0.1:$port/-/ready" >/dev/null; do
    kill -0 "$(cat "$PID_FILE")" 2>/dev/null || die "it exited during start (log: $LOG_FILE)"
    ((SECONDS < deadline)) || die "not ready after 30 s (log: $LOG_FILE)"
    sleep 0.2
  done
  echo "PUSHGATEWAY_URL=http://127.0.0.1:$port" >"$ENV_FILE"
  log "ready on http://127.0.0.1:$port (pid $(cat "$PID_FILE")); env file $ENV_FILE"
}

cmd_stop() {
  if [[ -f "$PID_FILE" ]]; then
    local pid
    pid=$(cat "$PID_FILE")
    if [[ "$(ps -o comm= -p "$pid" 2>/dev/null)" == prometheus-push* ]]; then
      kill "$pid" 2>/dev/null || true
      log "stopped pid $pid"
    fi
    rm -f "$PID_FILE"
  fi
  rm -f "$ENV_FILE"
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  *) die "usage: $0 install|start|stop" ;;
esac
