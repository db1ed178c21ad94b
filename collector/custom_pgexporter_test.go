package collector_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pghardening/pg_hardening_exporter/collector"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
)

// pgExporterExample finds the example queries.yaml (plain or gzipped) of
// Debian's prometheus-postgres-exporter package: where the package puts it,
// or, where dpkg leaves out /usr/share/doc, where scripts/install-deps.sh
// extracts it from the package.
func pgExporterExample(t *testing.T) string {
	t.Helper()
	for _, dir := range []string{
		"/usr/share/doc/prometheus-postgres-exporter/examples",
		"/var/cache/pg_hardening_exporter/postgres_exporter",
	} {
		for _, name := range []string{"queries.yaml", "queries.yaml.gz"} {
			p := filepath.Join(dir, name)
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	pgtest.Skip(t, "postgres_exporter's example queries.yaml", "scripts/install-deps.sh (Debian package prometheus-postgres-exporter)")
	return ""
}

var noCollectorRE = regexp.MustCompile(`--no-collector\.([a-z0-9_]+)`)

// postgres_exporter's own example queries.yaml loads unchanged (gzipped too),
// and its queries produce their metrics on a real server. Where its names
// overlap a built-in collector, the error says which one to disable.
func TestPostgresExporterExampleQueries(t *testing.T) {
	path := pgExporterExample(t)
	t.Logf("loading %s", path)
	s := pgtest.RequireServer(t, srv)
	ctx := context.Background()

	// The same file gzipped loads the same way.
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	if !strings.HasSuffix(path, ".gz") {
		zw := gzip.NewWriter(&gz)
		_, _ = zw.Write(raw)
		_ = zw.Close()
	} else {
		gz.Write(raw)
	}
	gzPath := filepath.Join(t.TempDir(), "queries.yaml.gz")
	if err := os.WriteFile(gzPath, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	var enabled []string
	for _, sp := range collector.Specs() {
		enabled = append(enabled, sp.Name)
	}
	sources := []collector.CustomSource{{Name: gzPath}}
	if _, err := collector.LoadCustomQueries(sources, enabled); err != nil {
		// Every problem must be a clash naming the collector to disable.
		disable := map[string]bool{}
		for _, line := range strings.Split(err.Error(), "\n") {
			m := noCollectorRE.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("not a clash with a built-in collector: %s", line)
			}
			disable[m[1]] = true
		}
		var keep []string
		for _, n := range enabled {
			if !disable[n] {
				keep = append(keep, n)
			}
		}
		if _, err := collector.LoadCustomQueries(sources, keep); err != nil {
			t.Fatalf("with %v disabled: %v", disable, err)
		}
		t.Logf("clashes reported with built-in collectors %v", disable)
	}

	if err := s.Exec(ctx, "postgres",
		"CREATE EXTENSION IF NOT EXISTS pg_stat_statements",
		"CREATE TABLE pgexp_t (id int PRIMARY KEY, v text)",
		"INSERT INTO pgexp_t SELECT g, 'x' FROM generate_series(1, 250) g",
		"VACUUM ANALYZE pgexp_t",
	); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Exec(context.Background(), "postgres", "DROP TABLE IF EXISTS pgexp_t") })
	// An idle session for pg_process_idle's histogram.
	idle, err := pgx.Connect(ctx, s.SuperuserDSN("")+"&application_name=pgexp_idle")
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close(ctx)
	var started time.Time
	if err := idle.QueryRow(ctx, "SELECT pg_postmaster_start_time()").Scan(&started); err != nil {
		t.Fatal(err)
	}
	// The inserting session's counts reach the statistics when it ends; wait
	// for them, then read the live-tuple estimate the metric must equal.
	var inserted, live float64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err := idle.QueryRow(ctx, "SELECT n_tup_ins::float8, n_live_tup::float8 FROM pg_stat_user_tables WHERE relname = 'pgexp_t'").Scan(&inserted, &live); err != nil {
			t.Fatal(err)
		}
		if inserted == 250 {
			break
		}
	}

	r := customScraper(t, s.SuperuserDSN(""), collector.CustomSource{Name: path}).Scrape(t)
	table := map[string]string{"relname": "pgexp_t", "schemaname": "public", "datname": "postgres"}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"pg_replication_lag", nil, 0},
		{"pg_postmaster_start_time_seconds", nil, float64(started.Unix())},
		{"pg_stat_user_tables_n_tup_ins", table, 250},
		{"pg_stat_user_tables_n_live_tup", table, live},
		{"pg_stat_user_tables_vacuum_count", table, 1},
		{"pg_stat_user_tables_analyze_count", table, 1},
		{"pg_stat_user_tables_autovacuum_count", table, 0},
	}
	for _, c := range checks {
		v, ok := r.Value(c.name, c.labels)
		if !ok {
			t.Errorf("%s%v missing:\n%s", c.name, c.labels, r.String(c.name))
			continue
		}
		if c.name == "pg_postmaster_start_time_seconds" {
			v = float64(int64(v))
		}
		if v != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
	if v, ok := r.Value("pg_stat_user_tables_last_vacuum", table); !ok || time.Since(time.Unix(int64(v), 0)) > time.Hour {
		t.Errorf("pg_stat_user_tables_last_vacuum = %v, want the time of the VACUUM above", v)
	}
	if _, ok := r.Value("pg_statio_user_tables_heap_blks_hit", table); !ok {
		t.Errorf("pg_statio_user_tables_heap_blks_hit missing for pgexp_t")
	}
	if vs := r.Values("pg_process_idle_seconds", map[string]string{"application_name": "pgexp_idle"}); len(vs) != 1 || vs[0] < 1 {
		t.Errorf("pg_process_idle_seconds{application_name=pgexp_idle} sample counts %v, want one histogram with >= 1 sample\n%s", vs, r.String("pg_process_idle_seconds"))
	}
	// Every query succeeds except pg_stat_statements: the example still reads
	// total_time, which PostgreSQL 13 renamed to total_exec_time; that failure
	// stays with that query.
	for _, q := range []string{"pg_replication", "pg_postmaster", "pg_stat_user_tables", "pg_statio_user_tables", "pg_process_idle"} {
		if v, ok := r.Value("pg_custom_query_success", map[string]string{"query": q}); !ok || v != 1 {
			t.Errorf("pg_custom_query_success{query=%q} = %v (present %v)", q, v, ok)
		}
	}
	if v, ok := r.Value("pg_custom_query_success", map[string]string{"query": "pg_stat_statements"}); !ok || v != 0 {
		t.Errorf("pg_custom_query_success{query=pg_stat_statements} = %v (present %v), want 0 on PostgreSQL %d", v, ok, s.Major)
	}
	if v, ok := r.Value("pg_custom_query_errors_total", map[string]string{"query": "pg_stat_statements", "reason": "sql"}); !ok || v < 1 {
		t.Errorf("pg_stat_statements failure not counted as an SQL error: %v", r.String("pg_custom_query_errors_total"))
	}
}
