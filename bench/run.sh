#!/usr/bin/env bash
# Side-by-side scrape benchmark: pg_hardening_exporter against
# postgres_exporter's current release on one PostgreSQL 15 server holding a
# database of 1 000, 5 000 and then 10 000 tables (a primary key, one
# secondary index and a sequence each, some rows, ANALYZE) and about 5 000
# distinct statements in pg_stat_statements. For each size and exporter it
# reports the median and p95 scrape time, the cold scrape (the first after
# start, and how many collectors it left failed), peak RSS, CPU per scrape,
# SQL statements per scrape (from pg_stat_statements calls of the exporter's
# own role), series per scrape and the load average, then the ratios to
# postgres_exporter and the per-table growth. Ours runs with the default
# per-object limits, with every object reported, and with every object
# reported in protobuf (as Prometheus asks with native histograms on).
#
#   bench/run.sh                    # all three sizes, 5 timed scrapes each
#   BENCH_SIZES="1000" BENCH_SCRAPES=15 bench/run.sh
#
# postgres_exporter (BENCH_PE_VERSION, default v0.20.1) is built here:
# from BENCH_PE_SRC, a git repository (bare or not; the version's tag is
# checked out) or a source tree of it, or else with go install from its
# module. Nothing of it is kept in this repository.
#
# Needs root (it runs PostgreSQL as uid 65534), Debian's postgresql-15, Go,
# git, bc and curl. Markdown goes to stdout; details to $WORK/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

SIZES=${BENCH_SIZES:-"1000 5000 10000"}
SCRAPES=${BENCH_SCRAPES:-5}
PGBIN=${BENCH_PGBIN:-/usr/lib/postgresql/15/bin}
PORT=${BENCH_PORT:-55433}
OURS_PORT=19701
THEIRS_PORT=19702
STATEMENTS=${BENCH_STATEMENTS:-5000}
PE_VERSION=${BENCH_PE_VERSION:-v0.20.1}

if [ "$(id -u)" -ne 0 ]; then
	echo "bench/run.sh runs as root: it runs PostgreSQL as uid 65534" >&2
	exit 1
fi

WORK=$(mktemp -d /tmp/exporter-bench.XXXXXX)
chown 65534:65534 "$WORK"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	if [ -n "${BENCH_KEEP:-}" ]; then
		echo "BENCH_KEEP: PostgreSQL left running on port $PORT (data in $WORK/data)" >&2
		return
	fi
	(cd "$WORK" && setpriv --reuid=65534 --regid=65534 --clear-groups -- "$PGBIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1) || true
}
trap cleanup EXIT

as_pg() { (cd "$WORK" && setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"); }
psql() { "$PGBIN/psql" -X -q -A -t -h 127.0.0.1 -p "$PORT" -U postgres -v ON_ERROR_STOP=1 "$@"; }

echo "building the exporters and the fixture in $WORK" >&2
(cd "$ROOT" && CGO_ENABLED=0 go build -o "$WORK/pg_hardening_exporter" .)
if [ -n "${BENCH_PE_SRC:-}" ]; then
	mkdir -p "$WORK/pe-src"
	if git -C "$BENCH_PE_SRC" rev-parse -q --verify "$PE_VERSION^{commit}" >/dev/null 2>&1; then
		git -C "$BENCH_PE_SRC" archive "$PE_VERSION" | tar -x -C "$WORK/pe-src"
	else
		cp -r "$BENCH_PE_SRC/." "$WORK/pe-src"
	fi
	(cd "$WORK/pe-src" && CGO_ENABLED=0 go build -o "$WORK/postgres_exporter" ./cmd/postgres_exporter)
elif ! GOBIN="$WORK" CGO_ENABLED=0 go install "github.com/prometheus-community/postgres_exporter/cmd/postgres_exporter@$PE_VERSION" >&2; then
	echo "postgres_exporter $PE_VERSION could not be installed from its module; set BENCH_PE_SRC to a clone of github.com/prometheus-community/postgres_exporter" >&2
	exit 1
fi
as_pg "$PGBIN/initdb" -D "$WORK/data" -U postgres --auth=trust >/dev/null
cat >>"$WORK/data/postgresql.conf" <<EOF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.max = 10000
shared_buffers = 256MB
max_locks_per_transaction = 256
fsync = off
synchronous_commit = off
full_page_writes = off
autovacuum = off
EOF
as_pg "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/postgres.log" -w start >/dev/null

psql -d postgres -c "CREATE DATABASE bench" \
	-c "CREATE ROLE ours LOGIN IN ROLE pg_monitor" -c "CREATE ROLE theirs LOGIN IN ROLE pg_monitor"
psql -d bench -c "CREATE EXTENSION pg_stat_statements"

# add_tables FROM TO: tables tFROM..tTO with a primary key, a secondary index
# and 20 rows, and a sequence each, in transactions of 250 tables.
add_tables() {
	local from=$1 to=$2 lo hi
	for ((lo = from; lo <= to; lo += 250)); do
		hi=$((lo + 249 > to ? to : lo + 249))
		psql -d bench -c "DO \$\$ BEGIN FOR i IN $lo..$hi LOOP
  EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, v int, pad text)', i);
  EXECUTE format('CREATE INDEX t%s_v ON t%s (v)', i, i);
  EXECUTE format('CREATE SEQUENCE t%s_seq', i);
  EXECUTE format('INSERT INTO t%s SELECT g, g, md5(g::text) FROM generate_series(1, 20) g', i);
END LOOP; END \$\$"
	done
	psql -d bench -c "ANALYZE"
}

# Distinct statements: five shapes over the first 1 000 tables.
add_statements() {
	local n=0 i
	{
		for ((i = 1; n < STATEMENTS; i++)); do
			echo "SELECT v FROM t$i WHERE id = 1;"
			echo "SELECT pad FROM t$i WHERE v = 2;"
			echo "SELECT count(*) FROM t$i;"
			echo "UPDATE t$i SET v = v WHERE id = 3;"
			echo "SELECT max(id) FROM t$i WHERE pad IS NOT NULL;"
			n=$((n + 5))
		done
	} >"$WORK/statements.sql"
	psql -d bench -o /dev/null -f "$WORK/statements.sql"
}

cat >"$WORK/ours-default.yml" <<EOF
databases:
  include: [bench]
EOF
# Per-object limits lifted so every table, index and statement gets series,
# as postgres_exporter's queries give them.
cat >"$WORK/ours-full.yml" <<EOF
databases:
  include: [bench]
objects:
  tables: {top_n: 100000}
  indexes: {top_n: 100000}
  statements: {top_n: 100000}
EOF

calls_of() { psql -d bench -c "SELECT COALESCE(sum(calls), 0)::bigint FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = '$1'"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

wait_port() {
	for _ in $(seq 100); do
		curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
		sleep 0.1
	done
	echo "exporter on port $1 did not start" >&2
	return 1
}

# scrape URL [OUT]: one scrape as Prometheus sends it with its default
# 10 s timeout; prints the time taken.
# ACCEPT, when set, is sent as the Accept header (ours-full-protobuf).
scrape() {
	curl -s -o "${2:-/dev/null}" -H 'X-Prometheus-Scrape-Timeout-Seconds: 10' ${ACCEPT:+-H "Accept: $ACCEPT"} \
		-w '%{time_total}\n' "$1"
}
PROTOBUF='application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited'


# measure NAME PID PORT ROLE TABLES: the cold scrape, one warm-up, then
# SCRAPES timed ones.
measure() {
	local name=$1 pid=$2 port=$3 role=$4 tables=$5 url="http://127.0.0.1:$3/metrics"
	local cold coldfail c0 c1 t0 t1 series times med p95 hz load
	hz=$(getconf CLK_TCK)
	cold=$(scrape "$url" "$WORK/cold-$name-$tables.txt")
	scrape "$url" "$WORK/scrape-$name-$tables.txt" >/dev/null
	# Counted in the text format only (a protobuf answer has no lines).
	series=- coldfail=-
	if [ -z "${ACCEPT:-}" ]; then
		series=$(grep -vc '^#' "$WORK/scrape-$name-$tables.txt")
		coldfail=$(grep -c '^pg_scrape_collector_success{.*} 0$' "$WORK/cold-$name-$tables.txt" || true)
	fi
	c0=$(calls_of "$role")
	t0=$(cpu_ticks "$pid")
	: >"$WORK/times-$name-$tables"
	for _ in $(seq "$SCRAPES"); do
		scrape "$url" >>"$WORK/times-$name-$tables"
	done
	t1=$(cpu_ticks "$pid")
	c1=$(calls_of "$role")
	load=$(cut -d' ' -f1 /proc/loadavg)
	times=$(sort -n "$WORK/times-$name-$tables")
	med=$(echo "$times" | awk -v n="$SCRAPES" 'NR == int((n + 1) / 2) {print $1}')
	p95=$(echo "$times" | awk -v n="$SCRAPES" 'BEGIN {k = int(n * 0.95 + 0.999)} NR == k {print $1}')
	# calls_of itself is the superuser's, so the delta is the exporter's alone.
	printf '%s\t%s\t%.1f\t%.1f\t%.1f\t%s\t%.1f\t%d\t%.0f\t%s\t%s\n' "$tables" "$name" \
		"$(echo "$med * 1000" | bc -l)" "$(echo "$p95 * 1000" | bc -l)" "$(echo "$cold * 1000" | bc -l)" "$coldfail" \
		"$(echo "($t1 - $t0) * 1000 / $hz / $SCRAPES" | bc -l)" "$(($(hwm_kb "$pid") / 1024))" \
		"$(echo "($c1 - $c0) / $SCRAPES" | bc -l)" "$series" "$load" | tee -a "$WORK/results.tsv" |
		awk -F'\t' -v OFS=' | ' '{$1 = $1; print "| " $0 " |"}'
}

start_ours() {
	DATA_SOURCE_NAME="postgresql://ours@127.0.0.1:$PORT/bench?sslmode=disable" \
		"$WORK/pg_hardening_exporter" --web.listen-address="127.0.0.1:$OURS_PORT" --config.file="$1" \
		--log.level=warn >>"$WORK/ours.log" 2>&1 &
	echo $!
}
start_theirs() {
	DATA_SOURCE_NAME="postgresql://theirs@127.0.0.1:$PORT/bench?sslmode=disable" \
		"$WORK/postgres_exporter" --web.listen-address="127.0.0.1:$THEIRS_PORT" \
		--collector.stat_statements --collector.stat_statements.limit=100000 --collector.statio_user_indexes \
		--log.level=warn >>"$WORK/theirs.log" 2>&1 &
	echo $!
}

# run_one NAME: a fresh exporter process per measurement, so peak RSS is its own.
run_one() {
	local name=$1 tables=$2 pid port role
	case $name in
	ours-default) pid=$(start_ours "$WORK/ours-default.yml") port=$OURS_PORT role=ours ;;
	ours-full) pid=$(start_ours "$WORK/ours-full.yml") port=$OURS_PORT role=ours ;;
	ours-full-protobuf) pid=$(start_ours "$WORK/ours-full.yml") port=$OURS_PORT role=ours ACCEPT=$PROTOBUF ;;
	postgres_exporter) pid=$(start_theirs) port=$THEIRS_PORT role=theirs ;;
	esac
	PIDS+=("$pid")
	wait_port "$port"
	measure "$name" "$pid" "$port" "$role" "$tables"
	kill "$pid"
	wait "$pid" 2>/dev/null || true
}

echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'), postgres_exporter $PE_VERSION, $SCRAPES scrapes per row after a warm-up, $(nproc) CPUs, load at start $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| tables | exporter | median ms | p95 ms | cold ms | cold failed | CPU ms/scrape | peak RSS MiB | SQL/scrape | series | load |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
: >"$WORK/results.tsv"
have=0
for size in $SIZES; do
	echo "fixture: $size tables" >&2
	add_tables $((have + 1)) "$size"
	if [ "$have" -eq 0 ]; then add_statements; fi
	have=$size
	psql -d bench -c "VACUUM ANALYZE" >/dev/null
	for name in ours-default ours-full ours-full-protobuf postgres_exporter; do
		ACCEPT=""
		run_one "$name" "$size"
	done
done
echo
echo "pg_stat_statements entries: $(psql -d bench -c 'SELECT count(*) FROM pg_stat_statements')"

# Ratios to postgres_exporter at each size: median time, CPU, peak RSS.
echo
echo "| tables | exporter | median time | CPU per scrape | peak RSS |"
echo "|---|---|---|---|---|"
awk -F'\t' '{k = $1 "\t" $2; med[k] = $3; cpu[k] = $7; rss[k] = $8; if (!($1 in seen)) {seen[$1] = 1; sizes[++n] = $1}}
END {
	for (i = 1; i <= n; i++) {
		s = sizes[i]; t = s "\tpostgres_exporter"
		split("ours-default ours-full ours-full-protobuf", names, " ")
		for (e = 1; e <= 3; e++) {
			name = names[e]; k = s "\t" name
			if ((k in med) && med[t] > 0 && cpu[t] > 0 && rss[t] > 0)
				printf "| %s | %s | %.3f | %.3f | %.3f |\n", s, name, med[k] / med[t], cpu[k] / cpu[t], rss[k] / rss[t]
		}
	}
}' "$WORK/results.tsv"

# Growth per table between consecutive sizes: median time and CPU.
echo
echo "| exporter | from -> to tables | µs per table (median) | CPU µs per table |"
echo "|---|---|---|---|"
awk -F'\t' '{k = $1 "\t" $2; med[k] = $3; cpu[k] = $7; if (!($1 in seen)) {seen[$1] = 1; sizes[++n] = $1}}
END {
	split("ours-default ours-full postgres_exporter", names, " ")
	for (e = 1; e <= 3; e++)
		for (i = 2; i <= n; i++) {
			a = sizes[i - 1] "\t" names[e]; b = sizes[i] "\t" names[e]; d = sizes[i] - sizes[i - 1]
			printf "| %s | %s -> %s | %.0f | %.0f |\n", names[e], sizes[i - 1], sizes[i], (med[b] - med[a]) * 1000 / d, (cpu[b] - cpu[a]) * 1000 / d
		}
}' "$WORK/results.tsv"

# The exporter's own cost per scrape at the largest size, in process (Go's
# benchmark: time, bytes and allocations per scrape, text and protobuf).
for name in ours-default ours-full; do
	echo
	echo "In process, $size tables, $name (go test ./bench -bench Scrape):"
	echo
	echo '```'
	(cd "$ROOT" && BENCH_DSN="postgresql://ours@127.0.0.1:$PORT/bench?sslmode=disable" BENCH_CONFIG="$WORK/$name.yml" \
		go test ./bench -run '^$' -bench Scrape -benchtime 10x -count 3 | grep '^Benchmark')
	echo '```'
done
