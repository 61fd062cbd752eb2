#!/usr/bin/env bash
# Installs the Debian packages that fsdb's build, tests and benchmarks need.
# Idempotent: when everything is present it asks dpkg once and exits (well under
# a second); `apt-get update` runs only when something is missing.
#
#   scripts/bootstrap.sh           build + tests + fuzzers + benchmarks
#   scripts/bootstrap.sh --peers   also RocksDB and LevelDB for side-by-side benchmarks
set -euo pipefail

packages=(
  cmake make g++ pkg-config
  clang libclang-rt-14-dev          # libFuzzer targets
  clang-format clang-tidy
  libzstd-dev libxxhash-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev libedit-dev          # the fsdb shell
)
for arg in "$@"; do
  case "$arg" in
    --peers) packages+=(librocksdb-dev libleveldb-dev gnuplot-nox) ;;
    *) echo "bootstrap.sh: unknown argument '$arg' (expected --peers)" >&2; exit 2 ;;
  esac
done

missing=()
# One dpkg-query for all: it prints nothing for a package it has never heard of.
installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${packages[@]}" 2>/dev/null || true)
for p in "${packages[@]}"; do
  grep -qx "$p installed" <<<"$installed" || missing+=("$p")
done

[ "${#missing[@]}" -eq 0 ] && exit 0

echo "bootstrap: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "bootstrap: need root (or sudo) to install ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
