#!/usr/bin/env bash
# Install the peers `parsefleet bench` compares itself with (docs/benchmarks.md, Peers): Debian's
# universal-ctags (ast-grep comes with the dev extra, PyPI ast-grep-cli). Installs only what is
# missing. Without apt-get or root it says so and exits 0: the bench then leaves the peer out.
set -euo pipefail

exec bash "$(dirname "$0")/debian-packages.sh" peer-packages universal-ctags
