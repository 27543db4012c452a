#!/usr/bin/env bash
# Install what `parsefleet parity` needs to build its Go and Rust reference parsers
# (workers/languages/reference/): Debian's golang-go (go/parser), and the syn crate with its
# dependencies in Debian's crate registry (/usr/share/cargo/registry), plus Debian's cargo when no
# cargo is found (neither on PATH nor in ~/.cargo/bin). Installs only what is missing. Without
# apt-get or root it says so and exits 0: `parsefleet parity` then names what is missing (and the
# parity tests fail under CI=true).
set -euo pipefail

PACKAGES=(golang-go librust-syn-dev librust-proc-macro2-dev librust-quote-dev)
if ! command -v cargo >/dev/null 2>&1 && [ ! -x "${HOME:-/root}/.cargo/bin/cargo" ]; then
  PACKAGES+=(cargo)
fi

exec bash "$(dirname "$0")/debian-packages.sh" reference-packages "${PACKAGES[@]}"
