#!/usr/bin/env bash
# Installs what the tests and the demo need, idempotently, on a Debian machine:
# Debian's PostgreSQL 15, PgBouncer, pgBackRest, Prometheus, promtool, Alertmanager and
# postgres_exporter (whose example queries.yaml the custom-query tests load).
# Run as root (CI) or with sudo. Already-installed packages are left alone.
set -euo pipefail

pkgs=(postgresql-15 postgresql-contrib pgbouncer pgbackrest prometheus prometheus-alertmanager buildah prometheus-postgres-exporter)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all Debian packages present"
else
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  # Debian's postinst scripts would create and start a system cluster and services;
  # the tests start their own servers, so policy-rc.d keeps the package scripts from
  # starting anything.
  tmp_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    tmp_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  [ "$tmp_policy" -eq 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d
fi
