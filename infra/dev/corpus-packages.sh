#!/usr/bin/env bash
# Install the Debian packages whose sources `make corpus` copies (parsefleet.corpus):
# Go's standard library (golang-1.19-src) and the Rust crates of CORPUS_CRATES in parsefleet/bench/corpus.py;
# for the nightly corpus, NIGHTLY_CRATES and the packages of NIGHTLY_TREES.
# Installs only what is missing (infra/dev/debian-packages.sh). Without apt-get or root it says so and exits 0: the builder
# then reports what is missing, or uses --go-src/--rust-src (PARSEFLEET_CORPUS_*_SRC) directories.
set -euo pipefail

# Keep in step with parsefleet/bench/corpus.py (tests/test_corpus.py checks it).
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
  librust-backtrace-dev
  librust-compiler-builtins-dev
  librust-crossbeam-channel-dev
  librust-flate2-dev
  librust-gimli-dev
  librust-libc-dev
  librust-mio-dev
  librust-object-dev
  librust-petgraph-dev
  librust-rayon-dev
  librust-rayon-core-dev
  librust-rustix-dev
  librust-tracing-dev
  librust-winapi-dev
  python3-django
  python3-sympy
  golang-golang-x-tools-dev
)

exec bash "$(dirname "$0")/debian-packages.sh" corpus-packages "${PACKAGES[@]}"
