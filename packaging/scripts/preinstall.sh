#!/bin/sh
# Creates the system user the services run as, once; kept on removal, as
# Debian policy asks, so files it owns keep a named owner.
set -e
if ! getent passwd pg_exporter >/dev/null; then
  useradd --system --user-group --no-create-home --home-dir /var/lib/pg_hardening_exporter \
    --shell /usr/sbin/nologin --comment "pg_hardening_exporter" pg_exporter
fi
