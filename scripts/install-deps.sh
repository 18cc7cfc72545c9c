#!/usr/bin/env bash
# install-deps.sh - the Debian 12 packages this project needs (run as root).
#   scripts/install-deps.sh          build + test: PostgreSQL 15 server and headers, OpenBLAS,
#                                    perl's IPC::Run (PostgreSQL's TAP test modules), pg_cron
#                                    and libfaketime (test/t/005_pg_cron.pl)
#   scripts/install-deps.sh --torch  also PyTorch, numpy, ONNX and matplotlib (benchmarks, fixture
#                                    generators, test/onnx/check.sh, make figures)
#   scripts/install-deps.sh --profile  also valgrind (test/bench/ingest_callgrind.sh)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

packages=(build-essential pkg-config postgresql-15 postgresql-server-dev-15 postgresql-contrib
          libopenblas-serial-dev libipc-run-perl libpq-dev postgresql-15-cron libfaketime)
case "${1:-}" in
--torch) packages+=(python3 python3-torch python3-numpy python3-onnx python3-matplotlib) ;;
--profile) packages+=(valgrind) ;;
esac

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "missing packages: ${missing[*]}; run as root (or with sudo)" >&2
        exit 1
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
