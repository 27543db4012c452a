#!/usr/bin/env bash
# debian-packages.sh LABEL PACKAGE...: install the Debian packages of the list that are missing.
# Shared by corpus-packages.sh and reference-packages.sh. Without apt-get or without root it says
# what is missing and exits 0 (the callers then report what they lack); a package this Debian
# release does not have is skipped with a line.
set -euo pipefail

label=$1
shift

installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing=()
for package in "$@"; do
  installed "$package" || missing+=("$package")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "$label: all $# packages are installed"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "$label: no apt-get here; skipping (missing: ${missing[*]})"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "$label: not root; skipping (as root: apt-get install ${missing[*]})"
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
    echo "$label: $package is not in this Debian release; skipping it"
  fi
done
[ "${#wanted[@]}" -eq 0 ] && exit 0
echo "$label: installing ${wanted[*]}"
apt-get install -y -qq --no-install-recommends "${wanted[@]}" >/dev/null
echo "$label: installed ${#wanted[@]} packages"
