#!/usr/bin/env bash
# Runs every test of the project, installing and starting what the tests need.
# Usage: bash scripts/test.sh        (what .ci/run calls)
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== format"
cargo fmt --all -- --check

echo "== unit, property, use-case and CLI tests (cargo test --workspace)"
cargo test --workspace --all-targets --locked

echo "== doc tests"
cargo test --workspace --doc --locked
