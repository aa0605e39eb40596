#!/usr/bin/env bash
# Checks of the SAM template (infra/template.yaml), offline.
#
#   scripts/infra-check.sh install   # .local/venv-infra with cfn-lint and aws-sam-cli (pinned; idempotent)
#   scripts/infra-check.sh lint      # cfn-lint infra/template.yaml; sam validate --lint --template infra/template.yaml
#   scripts/infra-check.sh           # both
#
# Everything goes under <repo>/.local/ (git-ignored): the venv, pip's cache, SAM CLI's own settings folder. The
# metric-name and deploy checks of the template are Rust tests (tests/tests/e2e/infra.rs), run by cargo test.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL_DIR="${TESTSTACK_LOCAL_DIR:-$REPO_ROOT/.local}"
VENV="$LOCAL_DIR/venv-infra"
TEMPLATE="$REPO_ROOT/infra/template.yaml"
# aws-sam-cli 1.170.0 requires cfn-lint <1.59,>=1.52 and Python >=3.10.
REQS=("cfn-lint==1.58.0" "aws-sam-cli==1.170.0")

export PIP_CACHE_DIR="$LOCAL_DIR/cache/pip"
export PIP_DISABLE_PIP_VERSION_CHECK=1

log() { printf '[infra-check] %s\n' "$*"; }
die() { printf '[infra-check] ERROR: %s\n' "$*" >&2; exit 1; }

python_ok() { # python -> 0 if it is 3.10 to 3.13
  "$1" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 13) else 1)' 2>/dev/null
}

find_python() {
  local c
  for c in "${TESTSTACK_PYTHON:-}" "$(command -v python3.13 || true)" "$(command -v python3.12 || true)" \
           "$(command -v python3 || true)" /root/.pyenv/versions/3.13*/bin/python3.13; do
    [[ -n "$c" && -x "$c" ]] && python_ok "$c" && { echo "$c"; return 0; }
  done
  return 1
}

cmd_install() {
  local t0 want stamp py
  t0=$(date +%s)
  mkdir -p "$LOCAL_DIR" "$PIP_CACHE_DIR"
  want="$(printf '%s\n' "${REQS[@]}" | sha256sum | cut -d' ' -f1)"
  stamp="$VENV/.infra-reqs"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && "$VENV/bin/cfn-lint" --version >/dev/null 2>&1 \
     && "$VENV/bin/sam" --version >/dev/null 2>&1; then
    log "already installed: $("$VENV/bin/cfn-lint" --version), $("$VENV/bin/sam" --version)"
    return 0
  fi
  if [[ ! -x "$VENV/bin/python" ]] || ! python_ok "$VENV/bin/python"; then
    py="$(find_python)" || die "Python 3.10 to 3.13 not found (set TESTSTACK_PYTHON)"
    rm -rf "$VENV"
    log "creating $VENV with $py"
    "$py" -m venv "$VENV"
  fi
  log "installing ${REQS[*]} (about 20-60 s, 330 MB)"
  nice -n 10 "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  nice -n 10 "$VENV/bin/python" -m pip install -q "${REQS[@]}" || die "pip install into $VENV failed"
  echo "$want" > "$stamp"
  log "installed in $(( $(date +%s) - t0 ))s: $("$VENV/bin/cfn-lint" --version), $("$VENV/bin/sam" --version)"
}

cmd_lint() {
  [[ -x "$VENV/bin/sam" ]] || die "not installed: run $0 install"
  local t0=$EPOCHREALTIME
  log "cfn-lint $TEMPLATE"
  "$VENV/bin/cfn-lint" "$TEMPLATE"
  # sam validate --lint runs cfn-lint on the transformed template, offline; it still wants a region and
  # credentials to exist, and writes its settings under __SAM_CLI_APP_DIR (else ~/.aws-sam).
  log "sam validate --lint --template $TEMPLATE"
  env -u AWS_PROFILE \
    AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" AWS_REGION="${AWS_REGION:-us-east-1}" \
    AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-offline}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-offline}" \
    SAM_CLI_TELEMETRY=0 __SAM_CLI_APP_DIR="$LOCAL_DIR/sam-cli" \
    "$VENV/bin/sam" validate --lint --template "$TEMPLATE"
  log "template checks passed in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')s"
}

case "${1:-all}" in
  install) cmd_install ;;
  lint) cmd_lint ;;
  all) cmd_install; cmd_lint ;;
  *) echo "usage: $0 [install|lint]" >&2; exit 2 ;;
esac
