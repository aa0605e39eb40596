#!/usr/bin/env bash
# modelwatch local AWS emulator stack for end-to-end tests (no Docker needed).
#
#   scripts/teststack/stack.sh install   # venvs under .local/ (idempotent)
#   scripts/teststack/stack.sh start     # LocalStack (+ SageMaker/AAS from moto) on 127.0.0.1, writes .local/teststack.env
#   scripts/teststack/stack.sh status
#   scripts/teststack/stack.sh stop
#
# Everything lives under <repo>/.local/ (git-ignored). See scripts/teststack/README.md.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
LOCAL_DIR="${TESTSTACK_LOCAL_DIR:-$REPO_ROOT/.local}"

VENV_LS="$LOCAL_DIR/venv-localstack"
VENV_TOOLS="$LOCAL_DIR/venv-tools"
STATE_DIR="$LOCAL_DIR/teststack"      # LocalStack's private FILESYSTEM_ROOT, TMPDIR, HOME, caches; pid file
LOG_DIR="$LOCAL_DIR/logs"
ENV_FILE="$LOCAL_DIR/teststack.env"
PID_FILE="$STATE_DIR/localstack.pid"
PORT_FILE="$STATE_DIR/localstack.port"
LOG_FILE="$LOG_DIR/localstack.log"
PLUGIN_SRC="$SCRIPT_DIR/localstack_plugin"

HOST=127.0.0.1
PORT="${TESTSTACK_PORT:-4566}"                     # a number, or "auto" for any free port
START_TIMEOUT="${TESTSTACK_START_TIMEOUT:-90}"     # seconds
STOP_TIMEOUT="${TESTSTACK_STOP_TIMEOUT:-20}"       # seconds before SIGKILL
REGION="${TESTSTACK_REGION:-us-east-1}"
SERVICES="s3,cloudwatch,sns,sqs,events,cloudformation,logs,iam,sts,sagemaker,sagemaker-runtime,application-autoscaling,stepfunctions,lambda${TESTSTACK_EXTRA_SERVICES:+,$TESTSTACK_EXTRA_SERVICES}"
# services whose health must be ok before start returns
REQUIRED_SERVICES="s3 cloudwatch sns sqs events cloudformation logs iam sts sagemaker sagemaker-runtime application-autoscaling stepfunctions lambda"

LOCALSTACK_REQS=(
  "localstack-core[runtime]==2026.3.0"   # last release that runs without an account token
  "cbor2<6" "pyopenssl<25" "cryptography<45" "service_identity<25"
  "boto3"
  "setuptools>=61"                       # builds the provider plugin without network (--no-build-isolation)
)
TOOLS_REQS=("cargo-lambda==1.9.2" "ziglang==0.17.1")

# pip: keep its cache project-local, be gentle with the shared CPU
export PIP_CACHE_DIR="$LOCAL_DIR/cache/pip"
export PIP_DISABLE_PIP_VERSION_CHECK=1
NICE=(nice -n 10)

log() { printf '[teststack] %s\n' "$*"; }
die() { printf '[teststack] ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
  cat <<EOF
usage: $(basename "$0") install|start|stop|status|restart

  install   create/refresh .local/venv-localstack (LocalStack 2026.3.0 + provider plugin + boto3)
            and .local/venv-tools (cargo-lambda + ziglang); skips what is already there
  start     start LocalStack on $HOST:\${TESTSTACK_PORT:-4566} ("auto" = any free port), wait until
            healthy (timeout \${TESTSTACK_START_TIMEOUT:-90}s), write $ENV_FILE
  stop      stop it (process group, by recorded pid); safe when nothing runs
  status    tell whether it runs and is healthy
EOF
}

# ---------------------------------------------------------------------------------------------
# python discovery: LocalStack 2026.3.0 needs Python 3.13
find_python() {
  local cands=()
  [[ -n "${TESTSTACK_PYTHON:-}" ]] && cands+=("$TESTSTACK_PYTHON")
  cands+=("$(command -v python3.13 2>/dev/null || true)")
  if command -v pyenv >/dev/null 2>&1; then
    cands+=("$(pyenv root 2>/dev/null)"/versions/3.13*/bin/python3.13)
  fi
  cands+=("${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3.13 /root/.pyenv/versions/3.13*/bin/python3.13)
  local c
  for c in "${cands[@]}"; do
    [[ -n "$c" && -x "$c" ]] || continue
    if "$c" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 13) else 1)' 2>/dev/null; then
      echo "$c"; return 0
    fi
  done
  return 1
}

venv_ok() { # venv_dir -> 0 if its python runs and is 3.13
  [[ -x "$1/bin/python" ]] && "$1/bin/python" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 13) else 1)' 2>/dev/null
}

make_venv() { # venv_dir
  local dir="$1" py
  if venv_ok "$dir"; then
    log "venv $dir exists (Python $("$dir/bin/python" -c 'import platform; print(platform.python_version())'))"
    return 0
  fi
  py="$(find_python)" || die "Python 3.13 not found (set TESTSTACK_PYTHON=/path/to/python3.13; LocalStack 2026.3.0 does not import on 3.11)"
  [[ -e "$dir" ]] && { log "removing broken venv $dir"; rm -rf "$dir"; }
  log "creating venv $dir with $py"
  "$py" -m venv "$dir"
}

hash_of() { # strings... -> sha256
  printf '%s\n' "$@" | sha256sum | cut -d' ' -f1
}

plugin_hash() {
  (cd "$PLUGIN_SRC" && find . -type f \( -name '*.py' -o -name 'pyproject.toml' \) -not -path './build/*' | LC_ALL=C sort | xargs sha256sum) | sha256sum | cut -d' ' -f1
}

cmd_install() {
  local t0 want stamp
  t0=$(date +%s)
  mkdir -p "$LOCAL_DIR" "$LOG_DIR" "$PIP_CACHE_DIR"

  # 1. LocalStack venv ------------------------------------------------------------------------
  make_venv "$VENV_LS"
  want="$(hash_of "${LOCALSTACK_REQS[@]}")"
  stamp="$VENV_LS/.teststack-reqs"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] \
     && "$VENV_LS/bin/python" -c 'import localstack.runtime.main, moto.sagemaker, moto.applicationautoscaling, boto3' 2>/dev/null; then
    log "LocalStack packages already installed ($("$VENV_LS/bin/python" -c 'from importlib.metadata import version as v; print("localstack-core", v("localstack-core"), "/ moto-ext", v("moto-ext"), "/ boto3", v("boto3"))'))"
  else
    log "installing into $VENV_LS: ${LOCALSTACK_REQS[*]}  (about a minute)"
    "${NICE[@]}" "$VENV_LS/bin/python" -m pip install -q --upgrade pip >/dev/null
    "${NICE[@]}" "$VENV_LS/bin/python" -m pip install -q "${LOCALSTACK_REQS[@]}" \
      || die "pip install into $VENV_LS failed"
    echo "$want" > "$stamp"
    log "installed $("$VENV_LS/bin/python" -c 'from importlib.metadata import version as v; print("localstack-core", v("localstack-core"), "/ moto-ext", v("moto-ext"), "/ boto3", v("boto3"))')"
  fi

  # 2. provider plugin (SageMaker + Application Auto Scaling on LocalStack's port) -------------
  want="$(plugin_hash)"
  stamp="$VENV_LS/.teststack-plugin"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] \
     && "$VENV_LS/bin/python" -c 'import modelwatch_teststack.sagemaker_ext' 2>/dev/null; then
    log "provider plugin modelwatch-teststack already installed"
  else
    log "installing provider plugin from $PLUGIN_SRC"
    # build from a copy so the source folder gets no build/ or *.egg-info litter
    local build="$STATE_DIR/build/plugin"
    rm -rf "$build"; mkdir -p "$build"
    cp -r "$PLUGIN_SRC/." "$build/"
    rm -rf "$build/build" "$build"/*.egg-info
    "${NICE[@]}" "$VENV_LS/bin/python" -m pip install -q --no-deps --no-build-isolation --force-reinstall "$build" \
      || die "installing the provider plugin failed"
    rm -rf "$build"; rmdir "$STATE_DIR/build" 2>/dev/null || true
    echo "$want" > "$stamp"
    # plux caches entry points per sys.path; the runtime cache lives in $STATE_DIR/cache, drop it
    rm -rf "$STATE_DIR/cache/plux"
  fi

  # 3. tools venv: cargo-lambda + ziglang -----------------------------------------------------
  make_venv "$VENV_TOOLS"
  want="$(hash_of "${TOOLS_REQS[@]}")"
  stamp="$VENV_TOOLS/.teststack-reqs"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && "$VENV_TOOLS/bin/cargo-lambda" lambda --version >/dev/null 2>&1; then
    log "cargo-lambda already installed"
  else
    log "installing into $VENV_TOOLS: ${TOOLS_REQS[*]}"
    "${NICE[@]}" "$VENV_TOOLS/bin/python" -m pip install -q --upgrade pip >/dev/null
    "${NICE[@]}" "$VENV_TOOLS/bin/python" -m pip install -q "${TOOLS_REQS[@]}" || die "pip install into $VENV_TOOLS failed"
    echo "$want" > "$stamp"
  fi
  if command -v cargo >/dev/null 2>&1; then
    log "check: PATH=$VENV_TOOLS/bin:\$PATH cargo lambda --version -> $(PATH="$VENV_TOOLS/bin:$PATH" cargo lambda --version 2>&1 | head -1)"
  else
    log "check: cargo-lambda --version -> $("$VENV_TOOLS/bin/cargo-lambda" lambda --version 2>&1 | head -1) (cargo not on PATH)"
  fi
  log "zig: $("$VENV_TOOLS/bin/python" -m ziglang version 2>&1 | head -1)"

  log "install done in $(( $(date +%s) - t0 ))s"
}

# ---------------------------------------------------------------------------------------------
pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

recorded_pid() { [[ -f "$PID_FILE" ]] && tr -dc '0-9' < "$PID_FILE" || true; }

# true if pid is (still) our LocalStack, not a recycled pid
is_our_localstack() {
  local pid="$1" cmd
  pid_alive "$pid" || return 1
  cmd="$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null || true)"
  [[ "$cmd" == *"$VENV_LS/bin/python"*"localstack.runtime.main"* ]]
}

port_free() { # port -> 0 if nothing listens on HOST:port (and we may bind it)
  "$VENV_LS/bin/python" - "$HOST" "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# like the server itself: leftover TIME_WAIT connections do not make the port "taken", a listener does
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind((sys.argv[1], int(sys.argv[2])))
except OSError:
    sys.exit(1)
finally:
    s.close()
EOF
}

free_port() {
  "$VENV_LS/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

port_holder() { # best effort description of who holds a port
  if command -v ss >/dev/null 2>&1; then
    ss -ltnpH "sport = :$1" 2>/dev/null | head -3
  fi
}

health_json() { # port
  curl -sf --max-time 2 "http://$HOST:$1/_localstack/health" 2>/dev/null
}

# 0 when every required service is available/running
healthy() { # port
  local json
  json="$(health_json "$1")" || return 1
  "$VENV_LS/bin/python" -c '
import json, sys
h = json.loads(sys.argv[1]).get("services", {})
bad = [s for s in sys.argv[2].split() if h.get(s) not in ("available", "running")]
sys.exit(1 if bad else 0)' "$json" "$REQUIRED_SERVICES"
}

write_env_file() { # port
  local url="http://$HOST:$1" tmp="$ENV_FILE.tmp"
  cat > "$tmp" <<EOF
# written by scripts/teststack/stack.sh start; source it:  set -a; . $ENV_FILE; set +a
export AWS_ENDPOINT_URL=$url
export AWS_ENDPOINT_URL_SAGEMAKER=$url
export AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=$url
export AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING=$url
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=$REGION
export AWS_DEFAULT_REGION=$REGION
export TESTSTACK_ACCOUNT_ID=000000000000
export TESTSTACK_PORT=$1
export MODELWATCH_TESTSTACK_CALLS_DIR=$STATE_DIR/calls
EOF
  mv "$tmp" "$ENV_FILE"
}

cmd_start() {
  local t0 pid port deadline
  t0=$EPOCHREALTIME
  venv_ok "$VENV_LS" && "$VENV_LS/bin/python" -c 'import localstack.runtime.main, modelwatch_teststack.providers' 2>/dev/null \
    || die "the stack is not installed: run $0 install"
  command -v curl >/dev/null 2>&1 || die "curl is needed"
  command -v setsid >/dev/null 2>&1 || die "setsid (util-linux) is needed"

  pid="$(recorded_pid)"
  if [[ -n "$pid" ]]; then
    if is_our_localstack "$pid"; then
      port="$(cat "$PORT_FILE" 2>/dev/null || true)"
      if [[ -n "$port" ]] && healthy "$port"; then
        write_env_file "$port"
        log "already running (pid $pid, http://$HOST:$port); env file $ENV_FILE"
        return 0
      fi
      die "a LocalStack (pid $pid) is recorded but not healthy; run $0 stop first (log: $LOG_FILE)"
    fi
    log "removing stale pid file (pid $pid is gone)"
    rm -f "$PID_FILE" "$PORT_FILE"
  fi

  if [[ "$PORT" == "auto" || "$PORT" == "0" ]]; then
    port="$(free_port)"
  else
    [[ "$PORT" =~ ^[0-9]+$ ]] || die "TESTSTACK_PORT must be a number or 'auto', not '$PORT'"
    port="$PORT"
  fi
  if ! port_free "$port"; then
    die "port $HOST:$port is already in use by something else$(h="$(port_holder "$port")"; [[ -n "$h" ]] && printf ':\n%s' "$h"). Stop it, or use TESTSTACK_PORT=<port>|auto"
  fi

  # LocalStack keeps no state across restarts (no PERSISTENCE): drop the previous run's S3 object files
  rm -rf "$STATE_DIR/s3-storage"
  mkdir -p "$STATE_DIR"/{fs,tmp,home,cache,s3-storage} "$LOG_DIR"
  rm -f "$ENV_FILE"
  {
    echo
    echo "===== $(date -Is) start on $HOST:$port ====="
  } >> "$LOG_FILE"

  log "starting LocalStack 2026.3.0 on $HOST:$port (services: $SERVICES); log $LOG_FILE"
  # setsid: own session and process group, so stop can kill every child with the group.
  (
    cd "$STATE_DIR"
    exec env \
      OVERRIDE_IN_DOCKER=0 \
      GATEWAY_LISTEN="$HOST:$port" \
      LOCALSTACK_HOST="$HOST:$port" \
      SERVICES="$SERVICES" \
      EAGER_SERVICE_LOADING="${TESTSTACK_EAGER:-1}" \
      FILESYSTEM_ROOT="$STATE_DIR/fs" \
      TMPDIR="$STATE_DIR/tmp" \
      HOME="$STATE_DIR/home" \
      XDG_CACHE_HOME="$STATE_DIR/cache" \
      MODELWATCH_TESTSTACK_S3_DIR="$STATE_DIR/s3-storage" \
      MODELWATCH_TESTSTACK_CALLS_DIR="$STATE_DIR/calls" \
      SQS_ENDPOINT_STRATEGY=path \
      DNS_ADDRESS=0 \
      SKIP_SSL_CERT_DOWNLOAD=1 \
      DISABLE_EVENTS=1 \
      LOCALSTACK_TELEMETRY_DISABLED=1 \
      AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION="$REGION" \
      PYTHONUNBUFFERED=1 \
      setsid "$VENV_LS/bin/python" -m localstack.runtime.main
  ) >> "$LOG_FILE" 2>&1 < /dev/null &
  pid=$!
  echo "$pid" > "$PID_FILE"
  echo "$port" > "$PORT_FILE"

  deadline=$(( $(date +%s) + START_TIMEOUT ))
  until healthy "$port"; do
    if ! pid_alive "$pid"; then
      rm -f "$PID_FILE" "$PORT_FILE"
      tail -n 25 "$LOG_FILE" >&2 || true
      die "LocalStack exited during start (log: $LOG_FILE)"
    fi
    if (( $(date +%s) >= deadline )); then
      tail -n 25 "$LOG_FILE" >&2 || true
      cmd_stop >/dev/null 2>&1 || true
      die "LocalStack not healthy after ${START_TIMEOUT}s; stopped it (log: $LOG_FILE)"
    fi
    sleep 0.25
  done
  # the process answering must be ours (guards against a port race)
  is_our_localstack "$pid" || die "something answers on $HOST:$port but it is not the LocalStack we started"

  write_env_file "$port"
  log "healthy after $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')s: pid $pid (process group $(ps -o pgid= -p "$pid" | tr -d ' ')), http://$HOST:$port"
  log "env file: $ENV_FILE   (set -a; . $ENV_FILE; set +a)"
}

cmd_stop() {
  local pid pgid deadline
  pid="$(recorded_pid)"
  if [[ -z "$pid" ]]; then
    log "not running (no pid file)"
    rm -f "$ENV_FILE" "$PORT_FILE"
    return 0
  fi
  if ! is_our_localstack "$pid"; then
    log "not running (recorded pid $pid is gone or is not LocalStack); cleaning up"
    rm -f "$PID_FILE" "$PORT_FILE" "$ENV_FILE"
    return 0
  fi
  pgid="$(ps -o pgid= -p "$pid" | tr -d ' ')"
  # only signal the group if it is LocalStack's own (setsid makes pgid == pid)
  if [[ "$pgid" != "$pid" ]]; then
    log "warning: pid $pid is not a process group leader (pgid $pgid); signalling the pid only"
    pgid=""
  fi
  log "stopping LocalStack pid $pid${pgid:+ (process group $pgid)}"
  kill -TERM ${pgid:+-- -$pgid} ${pgid:-$pid} 2>/dev/null || true
  deadline=$(( $(date +%s) + STOP_TIMEOUT ))
  while pid_alive "$pid" || { [[ -n "$pgid" ]] && kill -0 -- "-$pgid" 2>/dev/null; }; do
    if (( $(date +%s) >= deadline )); then
      log "still alive after ${STOP_TIMEOUT}s: SIGKILL"
      kill -KILL ${pgid:+-- -$pgid} ${pgid:-$pid} 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.25
  done
  rm -f "$PID_FILE" "$PORT_FILE" "$ENV_FILE"
  log "stopped"
}

cmd_status() {
  local pid port json
  pid="$(recorded_pid)"
  if [[ -z "$pid" ]] || ! is_our_localstack "$pid"; then
    log "not running${pid:+ (stale pid file for $pid)}"
    return 3
  fi
  port="$(cat "$PORT_FILE" 2>/dev/null || echo "?")"
  log "running: pid $pid, http://$HOST:$port, env file $ENV_FILE, log $LOG_FILE"
  if json="$(health_json "$port")"; then
    "$VENV_LS/bin/python" -c '
import json, sys
h = json.loads(sys.argv[1])
svcs = h.get("services", {})
want = sys.argv[2].split()
states = [s + "=" + str(svcs.get(s, "missing")) for s in want]
print("[teststack] LocalStack", h.get("version"), "services:", ", ".join(states))' "$json" "$REQUIRED_SERVICES"
    healthy "$port" && { log "healthy"; return 0; }
    log "NOT healthy"; return 1
  fi
  log "health endpoint does not answer"
  return 1
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  restart) cmd_stop; cmd_start ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
