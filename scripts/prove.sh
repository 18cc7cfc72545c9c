#!/usr/bin/env bash
# prove.sh - prove for the TAP tests (the Makefile sets PROVE to it; make installcheck-tap).
# PostgreSQL::Test::Cluster runs initdb as the current user, and initdb refuses root: called
# as root, this hands the TAP working folder (TESTDIR/tmp_check, made by make) to the
# unprivileged postgres user and runs prove as that user, with the same environment.
# Otherwise it is prove itself.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
    exec prove "$@"
fi
chown -R postgres: "${TESTDIR:?TESTDIR is set by make installcheck-tap}/tmp_check"
exec runuser -u postgres -- prove "$@"
