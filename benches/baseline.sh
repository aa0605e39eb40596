#!/usr/bin/env bash
# A baseline of a data set larger than memory: peak memory and throughput of `profile_dataset` (what
# `modelwatch baseline` and suggest-baseline run) over generated CSV and Parquet files of growing size, beside the
# time a plain `cat` takes to read the same file.
# Usage: bash benches/baseline.sh [ROWS...]   (default 1000000 10000000; 60,000,000 rows is a 10 GB CSV)
#        FORMATS=csv bash benches/baseline.sh 60000000   (one format only; default: csv parquet)
# Files go to $DATASET_DIR (default: a temporary folder, removed at exit); they take about 170 bytes a row as CSV.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p modelwatch-benches --bin dataset
bin=target/release/dataset
dir=${DATASET_DIR:-$(mktemp -d)}
[[ -n ${DATASET_DIR:-} ]] || trap 'rm -rf "$dir"' EXIT
rows=("$@")
[[ ${#rows[@]} -gt 0 ]] || rows=(1000000 10000000)
for n in "${rows[@]}"; do
  for ext in ${FORMATS:-csv parquet}; do
    file="$dir/train-$n.$ext"
    "$bin" write "$file" "$n"
    read_s=$( { /usr/bin/time -f "%e" cat "$file" >/dev/null; } 2>&1 )
    echo "rows=$n format=$ext bytes=$(stat -c %s "$file") cat_s=$read_s"
    /usr/bin/time -f "  peak_rss_kib=%M wall_s=%e" "$bin" profile "$file"
    rm -f "$file"
  done
done
