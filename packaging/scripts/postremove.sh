#!/bin/sh
# On purge (dpkg only) the audit log directory goes too; the configuration
# files are dpkg's to remove. The system user stays.
set -e
if [ "$1" = purge ]; then
  rm -rf /var/lib/pg_hardening_exporter
fi
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
fi
