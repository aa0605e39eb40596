#!/usr/bin/env bash
# Runs every test of the project, installing and starting what the tests need.
# Usage: bash scripts/test.sh        (what .ci/run calls)
#
# The end-to-end tests (tests/) run against the local AWS emulators of scripts/teststack/: installed under
# .local/ on first use (~90 s, package registries only), started on 127.0.0.1 before the tests and stopped by
# process id afterwards, on success and on failure. cfn-lint and aws-sam-cli install beside them (.local/venv-infra,
# scripts/infra-check.sh) for the template's checks; its deploy and metric-name checks are tests/tests/e2e/infra.rs.
# A Prometheus Pushgateway (Debian's package, unpacked into .local/pushgateway by scripts/pushgateway.sh) serves the
# CLI's `--pushgateway` test; headless Chromium (Debian's, unpacked into .local/chromium by scripts/chromium.sh)
# renders the demo's report.html.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each phase is announced with the seconds since the start, so that a slow run shows where its time went.
phase() { echo "== $* (at ${SECONDS}s)"; }

phase "format"
cargo fmt --all -- --check

phase "build and lint the tests while the emulators install"
stack_log=.local/logs/teststack-install.log
mkdir -p .local/logs
bash scripts/teststack/stack.sh install >"$stack_log" 2>&1 &
install_pid=$!
infra_log=.local/logs/infra-install.log
bash scripts/infra-check.sh install >"$infra_log" 2>&1 &
infra_pid=$!
pushgateway_log=.local/logs/pushgateway-install.log
bash scripts/pushgateway.sh install >"$pushgateway_log" 2>&1 &
pushgateway_pid=$!
chromium_log=.local/logs/chromium-install.log
bash scripts/chromium.sh install >"$chromium_log" 2>&1 &
chromium_pid=$!
# Feature modelwatch/aws: the CLI's `history` from S3 and `rollback` (off by default so that `modelwatch demo` does
# not compile the SageMaker SDK), tested against the emulators.
features=(--features modelwatch/aws)
# Linted as it is built: the project's own crates compile through clippy-driver (what `cargo clippy` runs, with
# `-D warnings`), in this build and every later one of this script, so the lints cost no second build of the
# workspace and its dependencies (`cargo clippy` is a check build, which shares nothing with a test build). A lint
# fails the build, as `cargo clippy --workspace --all-targets -- -D warnings` would.
RUSTC_WORKSPACE_WRAPPER="$(rustc --print sysroot)/bin/clippy-driver"
# How cargo-clippy hands clippy-driver its arguments.
CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
export RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
cargo test --workspace --all-targets --locked "${features[@]}" --no-run
if ! wait "$install_pid"; then
  cat "$stack_log" >&2
  echo "installing the test stack failed (log above)" >&2
  exit 1
fi
if ! wait "$infra_pid"; then
  cat "$infra_log" >&2
  echo "installing cfn-lint and aws-sam-cli failed (log above)" >&2
  exit 1
fi
if ! wait "$pushgateway_pid"; then
  cat "$pushgateway_log" >&2
  echo "installing the Prometheus Pushgateway failed (log above)" >&2
  exit 1
fi
if ! wait "$chromium_pid"; then
  cat "$chromium_log" >&2
  echo "installing headless Chromium failed (log above)" >&2
  exit 1
fi

phase "SAM template: cfn-lint, sam validate --lint"
bash scripts/infra-check.sh lint

phase "start the emulators and the Pushgateway"
trap 'bash scripts/teststack/stack.sh stop || true; bash scripts/pushgateway.sh stop || true' EXIT
bash scripts/teststack/stack.sh start
bash scripts/pushgateway.sh start
set -a
# shellcheck disable=SC1091
. .local/teststack.env
# shellcheck disable=SC1091
. .local/pushgateway.env
# shellcheck disable=SC1091
. .local/chromium.env
set +a

phase "unit, property, use-case, CLI and end-to-end tests (cargo test --workspace)"
# The IAM check's records (tests/src/iam.rs) of this run only.
rm -rf "$MODELWATCH_TESTSTACK_CALLS_DIR"
cargo test --workspace --all-targets --locked "${features[@]}" --no-fail-fast

phase "IAM: what the template's roles grant and no end-to-end test used"
.local/venv-localstack/bin/python scripts/teststack/unused_grants.py "$MODELWATCH_TESTSTACK_CALLS_DIR"

phase "doc tests"
cargo test --workspace --doc --locked "${features[@]}"
phase "done"
