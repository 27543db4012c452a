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

installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing=()
for package in "${PACKAGES[@]}"; do
  installed "$package" || missing+=("$package")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "reference-packages: all ${#PACKAGES[@]} packages are installed"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "reference-packages: no apt-get here; skipping (parity needs: ${missing[*]})"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "reference-packages: not root; skipping (as root: apt-get install ${missing[*]})"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
  apt-get update -qq   # the package lists are missing or stale
fi
echo "reference-packages: installing ${missing[*]}"
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "reference-packages: installed ${#missing[@]} packages"
