# Sourced by ratio.sh and threads.sh: the generated data both measure, and the median of their rounds.

# make_captures DIR RECORDS: DIR/train.csv (100,000 rows) and its baseline DIR/baseline, RECORDS captured records in
# DIR/captures.jsonl (about 530 bytes each) and a binary label for each in DIR/labels.jsonl, read once into the page
# cache. Needs target/release/{dataset,modelwatch}.
make_captures() {
  local dir=$1 records=$2
  target/release/dataset write "$dir/train.csv" 100000
  target/release/modelwatch baseline --dataset "$dir/train.csv" --out "$dir/baseline" >/dev/null
  target/release/dataset captures "$dir/captures.jsonl" "$records"
  target/release/dataset labels "$dir/captures.jsonl" "$dir/labels.jsonl"
  cat "$dir/captures.jsonl" "$dir/labels.jsonl" >/dev/null
}

# median: the median of the numbers on standard input, one a line.
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
