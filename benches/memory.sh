#!/usr/bin/env bash
# Peak memory of parse + profile for 100k and 1M generated records: it must not grow with the count.
# Usage: bash benches/memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p modelwatch-benches --bin ingest
for n in 100000 1000000; do
  /usr/bin/time -f "records=$n peak_rss_kib=%M wall_s=%e" target/release/ingest "$n"
done
