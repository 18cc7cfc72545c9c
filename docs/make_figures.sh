#!/usr/bin/env bash
# make_figures.sh - `make figures`: trains the evaluation models on the bundled series
# (test/train/evaluate.sql: CO2 and sunspots, first 80 % of each) and draws docs/*.png with
# docs/make_figures.py (Debian's python3-matplotlib). Uses your server with PGHOST/PGPORT set,
# otherwise a throwaway one (scripts/with-server.sh); the extension must be installed.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${PGHOST:-}${PGPORT:-}" ] || exec scripts/with-server.sh "$0" "$@"
psql -X -q -v ON_ERROR_STOP=1 -f test/train/evaluate.sql
/usr/bin/python3 docs/make_figures.py
