#!/usr/bin/env bash
# Install the Debian packages whose sources `make corpus` copies (parsefleet.corpus):
# Go's standard library (golang-1.19-src) and the Rust crates of CORPUS_CRATES in parsefleet/corpus.py.
# Installs only what is missing. Without apt-get or without root it says so and exits 0: the builder
# then reports what is missing, or uses --go-src/--rust-src (PARSEFLEET_CORPUS_*_SRC) directories.
set -euo pipefail

# Keep in step with CORPUS_CRATES in parsefleet/corpus.py (tests/test_corpus.py checks it).
PACKAGES=(
  golang-1.19-src
  librust-anyhow-dev
  librust-bytes-dev
  librust-clap-dev
  librust-itertools-dev
  librust-log-dev
  librust-memchr-dev
  librust-proc-macro2-dev
  librust-quote-dev
  librust-rand-dev
  librust-regex-dev
  librust-regex-syntax-dev
  librust-serde-dev
  librust-serde-json-dev
  librust-syn-dev
  librust-thiserror-dev
  librust-tokio-dev
)

installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing=()
for package in "${PACKAGES[@]}"; do
  installed "$package" || missing+=("$package")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "corpus-packages: all ${#PACKAGES[@]} packages are installed"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "corpus-packages: no apt-get here; skipping (the corpus needs: ${missing[*]})"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "corpus-packages: not root; skipping (as root: apt-get install ${missing[*]})"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
known() { apt-cache show "$1" >/dev/null 2>&1; }
for package in "${missing[@]}"; do
  if ! known "$package"; then
    apt-get update -qq   # the package lists are missing or stale
    break
  fi
done
wanted=()
for package in "${missing[@]}"; do
  if known "$package"; then
    wanted+=("$package")
  else
    echo "corpus-packages: $package is not in this Debian release; skipping it"
  fi
done
[ "${#wanted[@]}" -eq 0 ] && exit 0
echo "corpus-packages: installing ${wanted[*]}"
apt-get install -y -qq --no-install-recommends "${wanted[@]}" >/dev/null
echo "corpus-packages: installed ${#wanted[@]} packages"
