#!/usr/bin/env bash
# Install the Debian packages whose sources `make corpus` copies (parsefleet.corpus):
# Go's standard library (golang-1.19-src) and the Rust crates of CORPUS_CRATES in parsefleet/bench/corpus.py.
# Installs only what is missing (infra/dev/debian-packages.sh). Without apt-get or root it says so and exits 0: the builder
# then reports what is missing, or uses --go-src/--rust-src (PARSEFLEET_CORPUS_*_SRC) directories.
set -euo pipefail

# Keep in step with CORPUS_CRATES in parsefleet/bench/corpus.py (tests/test_corpus.py checks it).
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

exec bash "$(dirname "$0")/debian-packages.sh" corpus-packages "${PACKAGES[@]}"
