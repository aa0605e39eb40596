#!/usr/bin/env bash
# evaluate against the physical limit of its work, on one core: `modelwatch evaluate --threads 1` (parse, profile, drift,
# violations, metrics, reports) on generated captures, and the reference program (`src/bin/reference.rs`: a
# simd-json parse of each line and a per-feature histogram) on the same file. Prints each one's CPU seconds (user +
# system; wall clock besides) and the ratio reference / evaluate (1 would be evaluate at the reference's speed).
# Then the same evaluation with model quality (a label for every record, binary): its CPU against evaluate's, and
# its peak memory above evaluate's per record (the join's cost). The three run in turn RUNS times (default 5) and
# the medians are printed: this machine's speed drifts from one second to the next.
# Usage: [RUNS=5] bash benches/ratio.sh [RECORDS]   (default 1000000; the file is about 530 bytes a record)
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-1000000}
cargo build --release --locked -p modelwatch -p modelwatch-benches --features modelwatch-benches/reference \
  --bin modelwatch --bin dataset --bin reference
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. benches/captures.sh
make_captures "$dir" "$records"
echo "records=$records bytes=$(stat -c %s "$dir/captures.jsonl")"
cpu() { # command... -> prints "cpu_s wall_s peak_kib" of its run
  /usr/bin/time -f "%U %S %e %M" -o "$dir/time" "$@" >/dev/null
  awk '{printf "%.2f %.2f %d\n", $1 + $2, $3, $4}' "$dir/time"
}
# The three in turn, RUNS times (the machine's speed drifts: each ratio is taken within one round), medians printed.
: >"$dir/rounds"
for ((run = 1; run <= ${RUNS:-5}; run++)); do
  read -r ref_cpu _ ref_kib < <(cpu target/release/reference "$dir/captures.jsonl")
  read -r eval_cpu _ eval_kib < <(cpu target/release/modelwatch evaluate --threads 1 --captures "$dir/captures.jsonl" \
    --baseline "$dir/baseline" --out "$dir/reports")
  read -r q_cpu _ q_kib < <(cpu target/release/modelwatch evaluate --threads 1 --captures "$dir/captures.jsonl" \
    --baseline "$dir/baseline" --out "$dir/reports-quality" --ground-truth "$dir/labels.jsonl" --problem-type binary)
  echo "$ref_cpu $eval_cpu $q_cpu $eval_kib $q_kib" | tee -a "$dir/rounds" |
    awk '{ printf "round: reference %.2f s, evaluate %.2f s, with model quality %.2f s CPU\n", $1, $2, $3 }'
done
col() { awk -v c="$1" '{ print $c }' "$dir/rounds" | median; }
echo "reference: cpu_s=$(col 1) (median of ${RUNS:-5})"
echo "evaluate:  cpu_s=$(col 2) peak_kib=$(col 4)"
awk '{ print $1 / $2 }' "$dir/rounds" | median | awk '{ printf "ratio reference/evaluate (CPU, median of the rounds): %.2f\n", $1 }'
echo "evaluate with model quality: cpu_s=$(col 3) peak_kib=$(col 5)"
q_more=$(awk '{ print ($3 / $2 - 1) * 100 }' "$dir/rounds" | median)
q_bytes=$(awk -v n="$records" '{ print ($5 - $4) * 1024 / n }' "$dir/rounds" | median)
printf "model quality: %.0f%% more CPU, %.1f bytes a record of memory above evaluate alone (medians)\n" "$q_more" "$q_bytes"
