#!/bin/sh
# One database and one role per demo service, in one PostgreSQL container.
# Run once by the postgres image on an empty data directory (docker-entrypoint-initdb.d).
# Each role owns only its database; CONNECT is revoked from PUBLIC, so a service cannot
# open another service's database: the "own database per service" contract holds.
set -eu
for name in identity orders inventory notifications; do
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<SQL
CREATE ROLE $name LOGIN PASSWORD '$name-password';
CREATE DATABASE $name OWNER $name;
REVOKE CONNECT ON DATABASE $name FROM PUBLIC;
GRANT CONNECT ON DATABASE $name TO $name;
SQL
done
