#!/usr/bin/env bash
# Installs what the tests and the demo need, idempotently, on a Debian machine:
# Debian's PostgreSQL 15, PgBouncer, pgBackRest, Prometheus, promtool, Alertmanager and
# postgres_exporter (whose example queries.yaml the custom-query tests load), and
# builds the current Prometheus, promtool and Alertmanager (scripts/current-prometheus.env)
# with `go install` into a cache directory, so the rule and Alertmanager tests run against
# both. Run as root (CI) or with sudo. Already-installed packages and already-built
# versions are left alone.
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

# The current Prometheus 3 and Alertmanager, built from their Go modules into
# $PROM_CURRENT_DIR/prometheus-<module version>/ and alertmanager-<module version>/
# (the tests look there; see internal/testutil/promtest). A version whose binaries are
# present is not built again. The builds leave out what the tests do not use: the web
# UI's assets (no `builtinassets` tag) and every service discovery but file and HTTP
# (`remove_all_sd`); the tests scrape static targets.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=current-prometheus.env
. "$here/current-prometheus.env"
if [ -z "${PROM_CURRENT_DIR:-}" ]; then
  if [ "$(id -u)" -eq 0 ]; then
    PROM_CURRENT_DIR=/var/cache/pg_hardening_exporter/prom3
  else
    PROM_CURRENT_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/pg_hardening_exporter/prom3
  fi
fi

# go_build HOW MODULE VERSION RELEASE DIR CMD... builds MODULE/cmd/CMD at VERSION for
# every CMD in one go command into DIR, stamped with RELEASE as the version they print.
# HOW is `install` (go install MODULE/cmd/CMD@VERSION) or `copy` (go build in a copy of the
# module's source with an empty web UI, for Alertmanager, whose module leaves out the UI
# build that ui/web.go embeds, so that go install stops at "pattern app/dist: no matching
# files found"; the API the tests use is all there). It builds into a temporary
# directory and renames it, so an interrupted build leaves nothing that looks complete.
go_build() {
  local how=$1 module=$2 version=$3 release=$4 dir=$5 c missing=0 tmp start src work ok=0
  shift 5
  for c in "$@"; do
    [ -x "$dir/$c" ] || missing=1
  done
  if [ "$missing" -eq 0 ]; then
    echo "install-deps: $* $release present in $dir"
    return 0
  fi
  if ! command -v go >/dev/null; then
    echo "install-deps: go is needed to build $* $release (from $module $version)" >&2
    return 1
  fi
  mkdir -p "$(dirname "$dir")"
  tmp=$(mktemp -d "$dir.tmp.XXXXXX")
  echo "install-deps: building $* $release from $module@$version into $dir"
  start=$(date +%s)
  local flags=(-trimpath -tags remove_all_sd
    -ldflags "-s -w -X github.com/prometheus/common/version.Version=$release -X github.com/prometheus/common/version.Revision=$version")
  if [ "$how" = install ]; then
    local pkgs=()
    for c in "$@"; do pkgs+=("$module/cmd/$c@$version"); done
    CGO_ENABLED=0 GOBIN=$tmp GOFLAGS= go install "${flags[@]}" "${pkgs[@]}" && ok=1
  else
    work=$(mktemp -d)
    if src=$(cd "$work" && GOFLAGS= go mod download -json "$module@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p') && [ -n "$src" ]; then
      cp -R "$src/." "$work/src"
      chmod -R u+w "$work/src"
      for c in elm mantine; do
        mkdir -p "$work/src/ui/app/dist/$c"
        printf '<!doctype html><title>Alertmanager</title><p>Built without its web UI; the API is served.</p>\n' \
          >"$work/src/ui/app/dist/$c/index.html"
      done
      local pkgs=()
      for c in "$@"; do pkgs+=("./cmd/$c"); done
      (cd "$work/src" && CGO_ENABLED=0 GOFLAGS= go build "${flags[@]}" -o "$tmp/" "${pkgs[@]}") && ok=1
    fi
    rm -rf "$work"
  fi
  if [ "$ok" -ne 1 ]; then
    rm -rf "$tmp"
    echo "install-deps: building $* $release failed" >&2
    return 1
  fi
  rm -rf "$dir"
  mv "$tmp" "$dir"
  chmod 0755 "$dir"
  echo "install-deps: built $* $release in $(( $(date +%s) - start ))s"
}

# Prometheus module v0.3MM.P is release 3.MM.P.
prom_minor=${PROMETHEUS_MODULE_VERSION#v0.3}
prom_release=3.$((10#${prom_minor%%.*})).${prom_minor#*.}
go_build install github.com/prometheus/prometheus "$PROMETHEUS_MODULE_VERSION" "$prom_release" \
  "$PROM_CURRENT_DIR/prometheus-$PROMETHEUS_MODULE_VERSION" prometheus promtool
go_build copy github.com/prometheus/alertmanager "$ALERTMANAGER_MODULE_VERSION" "${ALERTMANAGER_MODULE_VERSION#v}" \
  "$PROM_CURRENT_DIR/alertmanager-$ALERTMANAGER_MODULE_VERSION" alertmanager
