#!/usr/bin/env bash
# The databases of one PostgreSQL server, created when the postgres container initialises an
# empty data volume (/docker-entrypoint-initdb.d/; deploy/docker-compose.yml mounts this file
# there). Passwords come from the container's environment (deploy/.env), never from git:
#
#   dagster        Dagster's runs, event logs, schedules (deploy/dagster.postgres.yaml),
#                  owned by the role dagster (DAGSTER_PG_PASSWORD)
#   imtetl_lake    the DuckLake catalog (IMTETL_CATALOG), owned by the role imtetl, the
#                  warehouse's writer (IMTETL_LAKE_PASSWORD)
#   imtetl_reader  a role that may only read the catalog (IMTETL_READER_PASSWORD): readers
#                  attach the lake READ_ONLY with it (deploy/README.md)
#
# On a server of your own, run it once as the superuser with the same variables set:
#   POSTGRES_USER=postgres DAGSTER_PG_PASSWORD=… IMTETL_LAKE_PASSWORD=… \
#   IMTETL_READER_PASSWORD=… bash deploy/postgres/init-databases.sh
set -euo pipefail
: "${DAGSTER_PG_PASSWORD:?}" "${IMTETL_LAKE_PASSWORD:?}" "${IMTETL_READER_PASSWORD:?}"

run_psql() {
    psql -v ON_ERROR_STOP=1 -q --username "${POSTGRES_USER:-postgres}" \
        -v dagster_password="$DAGSTER_PG_PASSWORD" \
        -v lake_password="$IMTETL_LAKE_PASSWORD" \
        -v reader_password="$IMTETL_READER_PASSWORD" "$@"
}

run_psql --dbname postgres <<'SQL'
CREATE ROLE dagster LOGIN PASSWORD :'dagster_password';
CREATE DATABASE dagster OWNER dagster;
CREATE ROLE imtetl LOGIN PASSWORD :'lake_password';
CREATE DATABASE imtetl_lake OWNER imtetl;
CREATE ROLE imtetl_reader LOGIN PASSWORD :'reader_password';
REVOKE ALL ON DATABASE dagster FROM PUBLIC;
REVOKE ALL ON DATABASE imtetl_lake FROM PUBLIC;
GRANT CONNECT ON DATABASE imtetl_lake TO imtetl_reader;
SQL

# The catalog's tables are created by the first writer (DuckLake's ducklake_* tables in
# schema public): the reader may select from every table imtetl creates there, nothing else.
run_psql --dbname imtetl_lake <<'SQL'
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO imtetl_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE imtetl IN SCHEMA public GRANT SELECT ON TABLES TO imtetl_reader;
SQL
