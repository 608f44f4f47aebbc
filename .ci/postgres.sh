#!/usr/bin/env bash
# Debian's PostgreSQL on 127.0.0.1, for the test of deploy/dagster.postgres.yaml (Dagster's
# run, event log and schedule storage in PostgreSQL). Run as root. Installs the package if
# needed, starts the cluster, creates a throwaway role with a random password (kept, readable
# by root only, so that a second call, e.g. a second test run, leaves the first one's
# connections working), and prints the line to eval: `export IMTETL_TEST_POSTGRES_URL=postgresql://...`. Fails (and
# prints nothing) when PostgreSQL cannot be installed or started: the test then skips.
set -euo pipefail

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$version main"; then
    pg_createcluster "$version" main >&2
fi
# on 127.0.0.1 only; a throwaway test server: durability traded for speed
cat >"/etc/postgresql/$version/main/conf.d/imtetl-ci.conf" <<CONF
listen_addresses = '127.0.0.1'
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
if ! pg_ctlcluster "$version" main status >/dev/null 2>&1; then
    pg_ctlcluster "$version" main start >&2
fi
port=$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $3}')
secret_file="/etc/postgresql/$version/main/imtetl-ci.password"
if [[ ! -s "$secret_file" ]]; then
    (umask 077 && python3 -c 'import secrets; print(secrets.token_hex(16))' >"$secret_file")
fi
password=$(cat "$secret_file")
# the role may create the test's own database (dropped after the test)
su postgres -c "psql -q -p $port -v ON_ERROR_STOP=1 -d postgres" >&2 <<SQL
DO \$\$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'imtetl_ci') THEN
        CREATE ROLE imtetl_ci LOGIN CREATEDB;
    END IF;
END \$\$;
ALTER ROLE imtetl_ci PASSWORD '$password';
SQL
echo "export IMTETL_TEST_POSTGRES_URL=postgresql://imtetl_ci:$password@127.0.0.1:$port/postgres"
