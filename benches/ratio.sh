#!/usr/bin/env bash
# evaluate against the physical limit of its work, on one core: `modelwatch evaluate` (parse, profile, drift,
# violations, metrics, reports) on generated captures, and the reference program (`src/bin/reference.rs`: a
# simd-json parse of each line and a per-feature histogram) on the same file. Prints each one's CPU seconds (user +
# system; wall clock besides) and the ratio reference / evaluate (1 would be evaluate at the reference's speed).
# Then the same evaluation with model quality (a label for every record, binary): its CPU against evaluate's, and
# its peak memory above evaluate's per record (the join's cost).
# Usage: bash benches/ratio.sh [RECORDS]   (default 1000000; the file is about 530 bytes a record)
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-1000000}
cargo build --release --locked -p modelwatch -p modelwatch-benches --features modelwatch-benches/reference \
  --bin modelwatch --bin dataset --bin reference
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
target/release/dataset write "$dir/train.csv" 100000
target/release/modelwatch baseline --dataset "$dir/train.csv" --out "$dir/baseline" >/dev/null
target/release/dataset captures "$dir/captures.jsonl" "$records"
target/release/dataset labels "$dir/captures.jsonl" "$dir/labels.jsonl"
echo "records=$records bytes=$(stat -c %s "$dir/captures.jsonl")"
cpu() { # command... -> prints "cpu_s wall_s peak_kib" of its run
  /usr/bin/time -f "%U %S %e %M" -o "$dir/time" "$@" >/dev/null
  awk '{printf "%.2f %.2f %d\n", $1 + $2, $3, $4}' "$dir/time"
}
cat "$dir/captures.jsonl" >/dev/null # in the page cache for both
read -r ref_cpu ref_wall ref_kib < <(cpu target/release/reference "$dir/captures.jsonl")
read -r eval_cpu eval_wall eval_kib < <(cpu target/release/modelwatch evaluate --captures "$dir/captures.jsonl" \
  --baseline "$dir/baseline" --out "$dir/reports")
echo "reference: cpu_s=$ref_cpu wall_s=$ref_wall peak_kib=$ref_kib"
echo "evaluate:  cpu_s=$eval_cpu wall_s=$eval_wall peak_kib=$eval_kib"
awk -v r="$ref_cpu" -v e="$eval_cpu" 'BEGIN { printf "ratio reference/evaluate (CPU): %.2f\n", r / e }'
read -r q_cpu q_wall q_kib < <(cpu target/release/modelwatch evaluate --captures "$dir/captures.jsonl" \
  --baseline "$dir/baseline" --out "$dir/reports-quality" --ground-truth "$dir/labels.jsonl" --problem-type binary)
echo "evaluate with model quality: cpu_s=$q_cpu wall_s=$q_wall peak_kib=$q_kib"
awk -v q="$q_cpu" -v e="$eval_cpu" -v qk="$q_kib" -v ek="$eval_kib" -v n="$records" 'BEGIN {
  printf "model quality: %.0f%% more CPU, %.1f bytes a record of memory above evaluate alone\n", (q / e - 1) * 100, (qk - ek) * 1024 / n }'
