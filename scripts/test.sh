#!/usr/bin/env bash
# The README's test command: installs what the suite needs when missing (nats-server 2.15.1,
# pyx12, chromium), then runs every test of the workspace.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
env_lines="$(scripts/test-deps.sh)"
eval "$env_lines"
printf '%s\n' "$env_lines" | sed 's/^export /using /'
# The corpus lives beside the checkout in CI (../shared/samples); tests fail without it when CI is set.
cargo test --workspace --no-fail-fast "$@"
