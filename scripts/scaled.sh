#!/usr/bin/env bash
# The scaled configuration's stores on loopback, for tests and trying it
# out: a real PostgreSQL (Debian's package) and a one-node Garage (the
# S3-compatible store, built from crates.io by scripts/setup.sh test).
#
#   scripts/scaled.sh start DIR   start both under DIR; prints the settings
#                                 (eval "$(scripts/scaled.sh start DIR)")
#   scripts/scaled.sh stop DIR    stop both and remove DIR
#
# What `start` prints sets COFFER_TEST_DATABASE and COFFER_TEST_OBJECTS (the
# test suites give each test its own schema and key prefix in them) and
# SCALED_DATABASE / SCALED_OBJECTS (the same, for `coffer-server --database
# … --objects …`), and COFFER_TEST_PG_DATA / COFFER_TEST_PG_BIN for tests
# that restart PostgreSQL. Ports: PostgreSQL 55432, Garage S3 3900 and RPC 3901
# (override with COFFER_PG_PORT, COFFER_GARAGE_PORT, COFFER_GARAGE_RPC_PORT).
set -euo pipefail

action=${1:-}
dir=${2:-}
if [ -z "$action" ] || [ -z "$dir" ]; then
  sed -n '2,15p' "$0" >&2
  exit 2
fi
pg_port=${COFFER_PG_PORT:-55432}
s3_port=${COFFER_GARAGE_PORT:-3900}
rpc_port=${COFFER_GARAGE_RPC_PORT:-3901}
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
garage=${COFFER_GARAGE:-${COFFER_TOOLS:-$HOME/.cache/coffer-tools}/bin/garage}
# A fixed test key (Garage's format: GK + 24 hex digits, and 64 hex digits).
key_id=GK0c0ffee0c0ffee0c0ffee0c0
key_secret=0c0ffee0c0ffee0c0ffee0c0ffee0c0ffee0c0ffee0c0ffee0c0ffee0c0ffee0
bucket=coffer-test
pg_password=coffer-test

log() { echo "scaled.sh: $*" >&2; }

# PostgreSQL refuses to run as root: its files belong to the postgres user
# (made by Debian's package) when we are root.
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

start() {
  [ -n "$pg_bin" ] || { log "PostgreSQL is not installed (apt-get install postgresql)"; exit 1; }
  [ -x "$garage" ] || { log "no Garage at $garage (scripts/setup.sh test builds it)"; exit 1; }
  # A start over an earlier one in the same folder stops that one first.
  stop
  mkdir -p "$dir/pg" "$dir/garage-meta" "$dir/garage-data"
  [ "$(id -u)" -eq 0 ] && chown postgres "$dir/pg"

  log "starting PostgreSQL on 127.0.0.1:$pg_port (TLS, a test CA)"
  as_pg "$pg_bin/initdb" -D "$dir/pg/data" -A trust -U postgres >"$dir/pg-initdb.log"
  # The service connects over TLS, checking the server's certificate
  # against a CA made here (sslrootcert), as a deployment would.
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  openssl req -x509 "${ec[@]}" -days 7 -subj "/CN=Coffer test CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
    -keyout "$dir/ca.key" -out "$dir/pg-ca.pem" 2>/dev/null
  openssl req "${ec[@]}" -subj "/CN=127.0.0.1" -keyout "$dir/pg/server.key" -out "$dir/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$dir/server.ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/pg-ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 7 -extfile "$dir/server.ext" -out "$dir/pg/server.crt" 2>/dev/null
  chmod 600 "$dir/pg/server.key"
  [ "$(id -u)" -eq 0 ] && chown postgres "$dir/pg/server.key" "$dir/pg/server.crt"
  # Tests make a schema each; fsync off: a test cluster, thrown away after.
  as_pg "$pg_bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/log" -w \
    -o "-p $pg_port -k $dir/pg -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200 -c ssl=on -c ssl_cert_file=$dir/pg/server.crt -c ssl_key_file=$dir/pg/server.key" start >/dev/null
  psql -q -h 127.0.0.1 -p "$pg_port" -U postgres -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE coffer LOGIN PASSWORD '$pg_password'" \
    -c "CREATE DATABASE coffer OWNER coffer" >/dev/null

  log "starting Garage (S3 on 127.0.0.1:$s3_port)"
  cat >"$dir/garage.toml" <<EOF
metadata_dir = "$dir/garage-meta"
data_dir = "$dir/garage-data"
db_engine = "lmdb"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc_port"
rpc_public_addr = "127.0.0.1:$rpc_port"
rpc_secret = "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$s3_port"
root_domain = ".s3.garage.localhost"
EOF
  chmod 600 "$dir/garage.toml"
  # One node that lays itself out, with the test key and bucket made at start.
  GARAGE_DEFAULT_ACCESS_KEY=$key_id GARAGE_DEFAULT_SECRET_KEY=$key_secret GARAGE_DEFAULT_BUCKET=$bucket \
    RUST_LOG=${GARAGE_LOG:-warn} nohup "$garage" -c "$dir/garage.toml" server --single-node --default-bucket \
    >"$dir/garage.log" 2>&1 &
  echo $! >"$dir/garage.pid"
  # Ready when the S3 port answers and the node knows the bucket and key.
  local up=""
  for _ in $(seq 150); do
    if curl -s -o /dev/null "http://127.0.0.1:$s3_port/" &&
      "$garage" -c "$dir/garage.toml" bucket info "$bucket" >/dev/null 2>&1 &&
      "$garage" -c "$dir/garage.toml" key info "$key_id" >/dev/null 2>&1; then
      up=1
      break
    fi
    kill -0 "$(cat "$dir/garage.pid")" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$up" ] || { log "Garage did not start (see $dir/garage.log)"; tail -5 "$dir/garage.log" >&2; exit 1; }

  local database="postgres://coffer:$pg_password@127.0.0.1:$pg_port/coffer?sslmode=require&sslrootcert=$dir/pg-ca.pem"
  local objects="s3://$bucket?endpoint=http://127.0.0.1:$s3_port&region=garage&access_key_id=$key_id&secret_access_key=$key_secret"
  echo "export COFFER_TEST_DATABASE='$database' COFFER_TEST_OBJECTS='$objects'"
  echo "export SCALED_DATABASE='$database' SCALED_OBJECTS='$objects'"
  # For fault tests that restart PostgreSQL (as its owner, with pg_ctl).
  echo "export COFFER_TEST_PG_DATA='$dir/pg/data' COFFER_TEST_PG_BIN='$pg_bin'"
}

stop() {
  if [ -f "$dir/garage.pid" ]; then
    kill "$(cat "$dir/garage.pid")" 2>/dev/null || true
  fi
  if [ -n "$pg_bin" ] && [ -d "$dir/pg/data" ]; then
    as_pg "$pg_bin/pg_ctl" -D "$dir/pg/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

case $action in
  start) start ;;
  stop) stop ;;
  *) log "unknown action $action (start or stop)"; exit 2 ;;
esac
