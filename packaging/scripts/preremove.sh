#!/bin/sh
# Stops the services before their binary goes (removal, not upgrade: dpkg
# passes "remove", rpm passes 0 when no version stays installed).
set -e
case "$1" in
  remove|0)
    if [ -d /run/systemd/system ]; then
      systemctl stop pg_hardening_exporter pg_hardening_remediate >/dev/null 2>&1 || true
    fi
    ;;
esac
