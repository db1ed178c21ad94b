#!/bin/sh
# The receiver's audit log lives in /var/lib/pg_hardening_exporter, and the
# configuration directory is readable by the services' group only, as it
# holds the password file. No service is enabled or started: both need
# configuration first (docs/install.md).
set -e
install -d -o pg_exporter -g pg_exporter -m 0750 /var/lib/pg_hardening_exporter
chgrp pg_exporter /etc/pg_hardening_exporter
chmod 0750 /etc/pg_hardening_exporter
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
  # An upgrade restarts what was running, so the new binary serves.
  for unit in pg_hardening_exporter pg_hardening_remediate; do
    if systemctl is-active --quiet "$unit"; then systemctl try-restart "$unit" || true; fi
  done
fi
