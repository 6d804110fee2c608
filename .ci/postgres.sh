# Sourced by .ci/run: a throwaway PostgreSQL server on 127.0.0.1 for the pipeline test.
# Installs Debian's package when no server binaries are present; exports TEST_POSTGRES_URL and
# stops the server (and removes its files) when the calling script exits.

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

if [ -z "$(pg_bin)" ]; then
  debian_install postgresql
fi

PG_BIN="$(pg_bin)"
PG_DIR="$(mktemp -d /tmp/tap-proofpoint-pg.XXXXXX)"
PG_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

as_pg() {  # the server refuses to run as root; run from / (postgres may not read the cwd)
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

[ "$(id -u)" = 0 ] && chown postgres "$PG_DIR"
as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR" start >/dev/null
trap 'as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null; rm -rf "$PG_DIR"' EXIT
export TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on $TEST_POSTGRES_URL"
