#!/usr/bin/env bash
# check.sh - the packaging, end to end (slow, touches /usr: not part of scripts/test.sh).
#
#   sudo test/packaging/check.sh
#
# 1. META.json (PGXN) agrees with lstm.control and debian/changelog: versions, the extension.
# 2. dpkg-buildpackage -us -uc -b in a temporary copy of the tree (tracked and new files, no
#    build products) builds postgresql-15-lstm.
# 3. dpkg -i installs it into the machine's PostgreSQL 15: this REPLACES the lstm files in
#    /usr/share/postgresql/15/extension and /usr/lib/postgresql/15/lib (scripts/test.sh
#    reinstalls its own build there anyway).
# 4. A throwaway server of /usr/lib/postgresql/15/bin (scripts/with-server.sh) runs CREATE
#    EXTENSION lstm, trains and forecasts.
# Needs debhelper and postgresql-server-dev-all (installed here when missing, as root).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
PGBIN=/usr/lib/postgresql/15/bin
export PGBIN

need=()
for p in debhelper postgresql-server-dev-all dpkg-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

echo "=== META.json"
/usr/bin/python3 - <<'PY'
import json, re
meta = json.load(open("META.json"))
control = open("lstm.control").read()
default = re.search(r"default_version\s*=\s*'([^']+)'", control).group(1)
changelog = re.match(r"lstm \(([^)]+)\)", open("debian/changelog").read()).group(1)
for key in ("name", "abstract", "version", "maintainer", "license", "provides", "meta-spec"):
    assert key in meta, f"META.json: {key} is missing"
assert meta["meta-spec"]["version"] == "1.0.0"
assert re.fullmatch(r"\d+\.\d+\.\d+", meta["version"]), "version must be semver"
assert meta["version"] == default + ".0", f"META.json {meta['version']} vs lstm.control {default}"
assert meta["provides"]["lstm"]["version"] == meta["version"]
assert changelog.split("-")[0] == meta["version"], f"debian/changelog {changelog}"
assert "PostgreSQL" in meta["prereqs"]["runtime"]["requires"]
print(f"META.json {meta['version']} agrees with lstm.control {default} and debian/changelog {changelog}")
PY

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/lstm"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$work/lstm"

echo "=== dpkg-buildpackage -us -uc -b"
(cd "$work/lstm" && dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1) ||
    { tail -50 "$work/build.log"; exit 1; }
deb=$(ls "$work"/postgresql-15-lstm_*.deb)
echo "built $(basename "$deb")"
dpkg-deb --info "$deb" | sed -n '/Package:/,/Description:/p'
dpkg-deb --contents "$deb" | awk '{print $6}' | grep -E 'lstm(\.so|\.control|--)'

echo "=== dpkg -i (replaces the lstm files of /usr's PostgreSQL 15)"
dpkg -i "$deb" >/dev/null
dpkg -s postgresql-15-lstm | grep -E '^(Status|Version):'

echo "=== CREATE EXTENSION lstm on a throwaway server of $PGBIN"
scripts/with-server.sh "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d postgres <<'SQL'
CREATE EXTENSION lstm;
SELECT extversion FROM pg_extension WHERE extname = 'lstm';
CREATE TABLE s AS SELECT t, 10 + sin(t / 4.0) AS v FROM generate_series(1, 60) t;
SET client_min_messages = warning;
SELECT lstm_train('m', 's', value => 'v', time_column => 't', hidden => 4, epochs => 2) ->> 'rows' AS trained_rows;
SELECT lstm_forecast('m', v ORDER BY t) BETWEEN 5 AND 15 AS forecast_in_range FROM s;
SQL
echo "packaging check passed"
