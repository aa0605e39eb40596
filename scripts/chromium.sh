#!/usr/bin/env bash
# Headless Chromium for the tests, project-local: Debian's chromium-headless-shell and the libraries this machine
# lacks for it, unpacked into .local/chromium (no root, nothing installed system-wide), run through a wrapper that
# points the loader at them.
#   bash scripts/chromium.sh install   # download and unpack (once), write .local/chromium.env (CHROMIUM=...)
# Then: $CHROMIUM --dump-dom file:///.../report.html, $CHROMIUM --screenshot=out.png --window-size=1100,1800 URL
set -euo pipefail
cd "$(dirname "$0")/.."
LOCAL_DIR="$PWD/.local"
DIR="$LOCAL_DIR/chromium"
ROOT="$DIR/root"
WRAPPER="$DIR/headless"
ENV_FILE="$LOCAL_DIR/chromium.env"
PACKAGE=chromium-headless-shell

log() { echo "[chromium] $*"; }
die() { echo "[chromium] error: $*" >&2; exit 1; }

write_env() {
  echo "CHROMIUM=$WRAPPER" >"$ENV_FILE"
}

cmd_install() {
  if [[ -x "$WRAPPER" && -x "$ROOT/usr/lib/chromium/chromium-headless-shell" ]]; then
    write_env
    log "installed: $("$WRAPPER" --version 2>/dev/null | head -1)"
    return 0
  fi
  command -v apt-get >/dev/null || die "apt-get is needed (Debian's package)"
  local download="$LOCAL_DIR/cache/chromium" missing=() p
  rm -rf "$download" "$ROOT"
  mkdir -p "$download" "$ROOT"
  # The package and every library it needs that this machine does not have.
  while read -r p; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done < <(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
    --no-enhances --no-pre-depends "$PACKAGE" | grep '^[a-z0-9]' | sort -u)
  log "downloading ${#missing[@]} packages: ${missing[*]}"
  (cd "$download" && apt-get download "${missing[@]}" >/dev/null 2>&1) || die "apt-get download failed"
  for p in "$download"/*.deb; do
    dpkg -x "$p" "$ROOT"
  done
  [[ -x "$ROOT/usr/lib/chromium/chromium-headless-shell" ]] || die "the package has no chromium-headless-shell"
  local libs="$ROOT/usr/lib/x86_64-linux-gnu:$ROOT/lib/x86_64-linux-gnu:$ROOT/usr/lib/chromium"
  libs="$libs:$ROOT/usr/lib/x86_64-linux-gnu/pulseaudio"
  cat >"$WRAPPER" <<EOF
#!/bin/sh
# Written by scripts/chromium.sh: the unpacked chromium-headless-shell with its libraries.
export LD_LIBRARY_PATH="$libs\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
exec "$ROOT/usr/lib/chromium/chromium-headless-shell" --no-sandbox --disable-gpu --hide-scrollbars "\$@"
EOF
  chmod +x "$WRAPPER"
  rm -rf "$download"
  "$WRAPPER" --version >/dev/null 2>&1 || die "it does not start: $("$WRAPPER" --version 2>&1 | tail -1)"
  write_env
  log "installed: $("$WRAPPER" --version 2>/dev/null | head -1)"
}

case "${1:-}" in
  install) cmd_install ;;
  *) die "usage: $0 install" ;;
esac
