#!/usr/bin/env bash
# Evidently and modelwatch side by side on the same generated data: wall-clock times, their ratio, and which
# features each flagged as drifted.
#
#   bash benches/evidently/compare.sh [N]        N records (default 1000000): N training rows, N captured records
#   MODELWATCH=/path/to/modelwatch bash benches/evidently/compare.sh 100000
#
# It generates a training CSV (5 numeric, 3 categorical features and the model's score) and N captures in
# SageMaker Data Capture's JSON Lines (CSV bodies, the score as output), one file per hour in S3's layout, drawn
# with income up 30% and region's shares moved (plus a 2-point credit_score shift below both tools' thresholds).
# Then, each timed as a whole process with /usr/bin/time:
#   modelwatch baseline --dataset training.csv --prediction-column score, then modelwatch evaluate on the captures;
#   Evidently's DataDriftPreset with the training CSV as reference and the captured rows as current, in one Python
#   process: importing Evidently, reading both into pandas (the captures' JSON and CSV bodies) and the report.
# Both use their default per-column methods (over 1,000 values: Wasserstein distance normed by the reference's
# standard deviation for numbers, Jensen-Shannon distance for categories, threshold 0.1).
#
# Evidently is installed (pinned) into <repo>/.local/venv-evidently on the first run and reused after. Work files
# go to a temporary folder, removed at exit. MODELWATCH defaults to target/release/modelwatch, built if absent.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$REPO_ROOT/benches/evidently"
N="${1:-1000000}"
[[ "$N" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [N records, default 1000000]" >&2; exit 2; }

LOCAL_DIR="$REPO_ROOT/.local"
VENV="$LOCAL_DIR/venv-evidently"
# evidently 0.7.23 fails to import with pandas 3 (pandas.core.dtypes.common.infer_dtype_from_object is gone).
REQS=("evidently==0.7.23" "pandas==2.3.3" "numpy==2.5.5" "scipy==1.18.1")
export PIP_CACHE_DIR="$LOCAL_DIR/cache/pip" PIP_DISABLE_PIP_VERSION_CHECK=1

log() { printf '[compare] %s\n' "$*" >&2; }
die() { printf '[compare] ERROR: %s\n' "$*" >&2; exit 1; }

python_ok() { # python -> 0 if it is 3.10 to 3.13
  "$1" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 13) else 1)' 2>/dev/null
}
find_python() {
  local c
  for c in "${PYTHON:-}" "$(command -v python3.13 || true)" "$(command -v python3.12 || true)" \
           "$(command -v python3 || true)" /root/.pyenv/versions/3.13*/bin/python3.13; do
    [[ -n "$c" && -x "$c" ]] && python_ok "$c" && { echo "$c"; return 0; }
  done
  return 1
}

install_evidently() {
  local want stamp py
  want="$(printf '%s\n' "${REQS[@]}" | sha256sum | cut -d' ' -f1)"
  stamp="$VENV/.evidently-reqs"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && "$VENV/bin/python" -c 'import evidently' 2>/dev/null; then
    return 0
  fi
  if [[ ! -x "$VENV/bin/python" ]] || ! python_ok "$VENV/bin/python"; then
    py="$(find_python)" || die "Python 3.10 to 3.13 not found (set PYTHON)"
    rm -rf "$VENV"
    log "creating $VENV with $py"
    mkdir -p "$LOCAL_DIR" "$PIP_CACHE_DIR"
    "$py" -m venv "$VENV"
  fi
  log "installing ${REQS[*]} (about a minute)"
  "$VENV/bin/python" -m pip install -q "${REQS[@]}" || die "pip install into $VENV failed"
  echo "$want" > "$stamp"
}

MODELWATCH="${MODELWATCH:-target/release/modelwatch}"
cd "$REPO_ROOT"
if [[ ! -x "$MODELWATCH" ]]; then
  [[ "$MODELWATCH" == target/release/modelwatch ]] || die "MODELWATCH=$MODELWATCH is not an executable"
  log "building $MODELWATCH"
  cargo build --release -p modelwatch
fi
MODELWATCH="$(cd "$(dirname "$MODELWATCH")" && pwd)/$(basename "$MODELWATCH")"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is needed (Debian: apt-get install time)"

install_evidently
PY="$VENV/bin/python"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/modelwatch-evidently.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

log "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"
log "generating $N training rows and $N captured records in $WORK"
"$PY" "$HERE/compare.py" gen "$N" "$WORK" >&2
read -r FROM TO < <("$PY" "$HERE/compare.py" window "$N")
log "data: training.csv $(du -h "$WORK/training.csv" | cut -f1), captures $(du -sh "$WORK/captures" | cut -f1)"

# wall seconds, CPU seconds (user + system), peak RSS KiB
TIMEFMT='%e %U %S %M'
timed() { # name command... : the command's output to name.log, its times to name.time
  local name=$1; shift
  /usr/bin/time -f "$TIMEFMT" -o "$WORK/$name.raw" "$@" > "$WORK/$name.log" 2>&1 \
    || { cat "$WORK/$name.log" >&2; die "$name failed"; }
  awk '{printf "%s %.2f %s\n", $1, $2 + $3, $4}' "$WORK/$name.raw" > "$WORK/$name.time"
  log "$name: $(cut -d' ' -f1 "$WORK/$name.time") s wall"
}

# Page the inputs in once, so that neither tool pays for the first read from disk.
cat "$WORK/training.csv" "$WORK"/captures/*/*/*/*/*/*/*.jsonl > /dev/null

timed mw-baseline "$MODELWATCH" baseline --dataset "$WORK/training.csv" --out "$WORK/baseline" \
  --prediction-column score
timed mw-evaluate "$MODELWATCH" evaluate --captures "$WORK/captures/bench-endpoint/AllTraffic" \
  --baseline "$WORK/baseline" --out "$WORK/reports" --from "$FROM" --to "$TO"
timed evidently "$PY" "$HERE/compare.py" evidently "$WORK"

echo "== $N records; load average after: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs) =="
grep -E '^Read ' "$WORK/mw-evaluate.log" || true
"$PY" "$HERE/compare.py" summary "$WORK"
