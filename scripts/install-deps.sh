#!/usr/bin/env bash
# Installs what the tests and the demo need, idempotently, on a Debian machine:
# Debian's PostgreSQL 15, PgBouncer, pgBackRest, Prometheus, promtool, Alertmanager and
# postgres_exporter (whose example queries.yaml the custom-query tests load).
# Run as root (CI) or with sudo. Already-installed packages are left alone.
set -euo pipefail

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

pkgs=(postgresql-15 postgresql-contrib pgbouncer pgbackrest prometheus prometheus-alertmanager buildah prometheus-postgres-exporter)
# ca-certificates: the CA bundle `make image` copies into the image; rpm: make
# test-dist reads the built .rpm's file list, flags and scripts with it.
pkgs+=(ca-certificates rpm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all Debian packages present"
else
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

# postgres_exporter's example queries.yaml is shipped under /usr/share/doc, which slim
# images leave out (a dpkg path-exclude). Then the file is taken from the package's .deb
# into a cache directory, where the tests look next. Both directories can be set from
# the environment, to try this on a machine that has the docs.
example_doc=${PGEXPORTER_EXAMPLE_DOC_DIR:-/usr/share/doc/prometheus-postgres-exporter/examples}
example_cache=${PGEXPORTER_EXAMPLE_CACHE_DIR:-/var/cache/pg_hardening_exporter/postgres_exporter}

have_example() {
  local d n
  for d in "$example_doc" "$example_cache"; do
    for n in queries.yaml queries.yaml.gz; do
      [ -s "$d/$n" ] && return 0
    done
  done
  return 1
}

# fetch_example downloads the installed version of the package (any version if the
# archive no longer has it) and copies the example, plain or gzipped, to the cache.
fetch_example() {
  local pkg=prometheus-postgres-exporter ver tmp f log
  ver=$(dpkg-query -W -f='${Version}' "$pkg")
  tmp=$(mktemp -d)
  # shellcheck disable=SC2064 # expand $tmp now
  trap "rm -rf '$tmp'; trap - RETURN" RETURN
  # As root, apt would hand the download to its _apt user, who cannot write to $tmp.
  local get=(apt-get download -qq -o APT::Sandbox::User=root)
  if ! log=$(cd "$tmp" && { "${get[@]}" "$pkg=$ver" || "${get[@]}" "$pkg"; } 2>&1); then
    # Slim images also drop the package lists after installing.
    log=$({ $SUDO apt-get update -qq && cd "$tmp" && "${get[@]}" "$pkg"; } 2>&1) || {
      echo "install-deps: cannot download $pkg to extract its example queries.yaml: $log" >&2
      return 1
    }
  fi
  mkdir "$tmp/x"
  dpkg-deb --fsys-tarfile "$tmp"/"$pkg"_*.deb |
    tar -x -C "$tmp/x" --wildcards './usr/share/doc/*/examples/queries.yaml*' 2>/dev/null || true
  for f in "$tmp"/x/usr/share/doc/"$pkg"/examples/queries.yaml{,.gz}; do
    if [ -s "$f" ]; then
      $SUDO install -D -m 0644 "$f" "$example_cache/${f##*/}"
      echo "install-deps: no example queries.yaml in $example_doc (docs path-excluded?); extracted ${f##*/} from the .deb to $example_cache"
      return 0
    fi
  done
  echo "install-deps: $pkg $ver has no examples/queries.yaml" >&2
  return 1
}

have_example || fetch_example
