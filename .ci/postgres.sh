#!/usr/bin/env bash
# Start a throw-away PostgreSQL server on 127.0.0.1 as an unprivileged user (initdb refuses
# root) and run against it, one after the other: the tests marked `postgres` (tests/postgres),
# then the storage, services, study and statistics suites a second time with every project on
# the server (MEDREVIEW_TEST_BACKEND=postgres, see tests/pg_backend.py). The server and its
# files go afterwards. Exit status: the first failing stage's.
# Usage: .ci/postgres.sh [pytest args...]   (from the repository root, after the venv exists;
# the args go to both runs). MEDREVIEW_PG_PORT picks another port (one server per port).
set -euo pipefail
cd "$(dirname "$0")/.."

PGBIN="${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
[ -x "$PGBIN/initdb" ] || { echo "postgres.sh: no PostgreSQL server binaries (set PGBIN)" >&2; exit 2; }
PORT="${MEDREVIEW_PG_PORT:-55433}"
BASE="$(mktemp -d /tmp/medreview-pg.XXXXXX)"
RUNAS=()
if [ "$(id -u)" = 0 ]; then  # the server may not run as root
  chown nobody "$BASE"
  RUNAS=(su -s /bin/sh nobody -c)
else
  RUNAS=(sh -c)
fi
stop() {
  "${RUNAS[@]}" "'$PGBIN/pg_ctl' -D '$BASE/data' -m immediate stop" >/dev/null 2>&1 || true
  rm -rf "$BASE"
}
trap stop EXIT
# TCP logins need their password (SCRAM), as on a hospital's server: the team tests connect
# with the credentials `medreview team add-rater` creates. The socket (unused) stays trust.
PGPASS="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$PGPASS" >"$BASE/pwfile"
[ "$(id -u)" = 0 ] && chown nobody "$BASE/pwfile"
"${RUNAS[@]}" "'$PGBIN/initdb' -D '$BASE/data' --auth-local=trust --auth-host=scram-sha-256 \
  --pwfile='$BASE/pwfile' -U medreview -E UTF8 --locale=C.UTF-8" \
  >"$BASE/initdb.log" 2>&1 || { cat "$BASE/initdb.log" >&2; exit 1; }
rm -f "$BASE/pwfile"
"${RUNAS[@]}" "'$PGBIN/pg_ctl' -D '$BASE/data' -w -l '$BASE/server.log' -o \"-h 127.0.0.1 -p $PORT -k '$BASE' -F\" start" >/dev/null \
  || { cat "$BASE/server.log" >&2; exit 1; }
echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT"
export MEDREVIEW_TEST_PG_URL="postgresql+psycopg://medreview:$PGPASS@127.0.0.1:$PORT/postgres"
export QT_QPA_PLATFORM=offscreen
rc=0
SECONDS=0
.venv/bin/python -m pytest -m postgres tests/postgres -p no:cacheprovider "$@" || rc=$?
echo "postgres.sh: tests/postgres took ${SECONDS} s"
SECONDS=0
MEDREVIEW_TEST_BACKEND=postgres .venv/bin/python -m pytest tests/storage tests/services \
  tests/study tests/stats -p no:cacheprovider "$@" || { r=$?; [ "$rc" = 0 ] && rc=$r; }
echo "postgres.sh: storage, services, study and stats on PostgreSQL took ${SECONDS} s"
exit "$rc"
