#!/usr/bin/env bash
# evaluate on every core: `modelwatch evaluate` on one file of generated captures with --threads 1 and with
# --threads N (default: this machine's cores), in turn RUNS times (default 5); prints the medians of the wall-clock
# times and the speed-up (one thread's time / N threads' time), for drift alone and with model quality (a label for
# every record, binary). Also checks that both write the same reports.
# Usage: [RUNS=5] [THREADS=N] bash benches/threads.sh [RECORDS]   (default 1000000; about 530 bytes a record)
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-1000000}
threads=${THREADS:-$(nproc)}
cargo build --release --locked -p modelwatch -p modelwatch-benches --bin modelwatch --bin dataset
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. benches/captures.sh
make_captures "$dir" "$records"
echo "records=$records bytes=$(stat -c %s "$dir/captures.jsonl") threads=$threads cores=$(nproc)"
evaluate() { # threads out [more args] -> prints "wall_s peak_kib" of its run
  local n=$1 out=$2
  shift 2
  /usr/bin/time -f "%e %M" -o "$dir/time" target/release/modelwatch evaluate --captures "$dir/captures.jsonl" \
    --baseline "$dir/baseline" --threads "$n" --out "$dir/$out" "$@" >/dev/null
  cat "$dir/time"
}
quality=(--ground-truth "$dir/labels.jsonl" --problem-type binary)
: >"$dir/rounds"
for ((run = 1; run <= ${RUNS:-5}; run++)); do
  read -r one one_kib < <(evaluate 1 one)
  read -r many many_kib < <(evaluate "$threads" many)
  read -r q_one _ < <(evaluate 1 q-one "${quality[@]}")
  read -r q_many _ < <(evaluate "$threads" q-many "${quality[@]}")
  echo "$one $many $q_one $q_many $one_kib $many_kib" | tee -a "$dir/rounds" |
    awk '{ printf "round: drift %.2f s -> %.2f s, with model quality %.2f s -> %.2f s\n", $1, $2, $3, $4 }'
done
for report in statistics.json constraint_violations.json summary.json; do
  cmp "$dir/one/$report" "$dir/many/$report"
  cmp "$dir/q-one/$report" "$dir/q-many/$report"
done
cmp "$dir/q-one/model-quality/statistics.json" "$dir/q-many/model-quality/statistics.json"
echo "reports: identical with 1 and $threads threads"
col() { awk -v c="$1" '{ print $c }' "$dir/rounds" | median; }
echo "drift: 1 thread $(col 1) s (peak $(col 5) KiB), $threads threads $(col 2) s (peak $(col 6) KiB) (medians of ${RUNS:-5})"
awk '{ print $1 / $2 }' "$dir/rounds" | median | awk '{ printf "speed-up, drift: %.2fx\n", $1 }'
echo "with model quality: 1 thread $(col 3) s, $threads threads $(col 4) s"
awk '{ print $3 / $4 }' "$dir/rounds" | median | awk '{ printf "speed-up, with model quality: %.2fx\n", $1 }'
