package collector_test

import (
	"context"
	"testing"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/families"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/scrapetest"
)

func TestDatabaseCollectorCountsCommitsRollbacksAndSize(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	ctx := context.Background()
	if err := s.CreateDatabase(ctx, "dbstats"); err != nil {
		t.Fatal(err)
	}
	// Sizes are re-read only every objects.sizes_ttl; make that short here.
	cfg, err := config.Parse("db.yml", []byte("objects:\n  sizes_ttl: 1ms\n"))
	if err != nil {
		t.Fatal(err)
	}
	sc := scrapetest.New(t, s.SuperuserDSN("postgres"), cfg, "database")
	before := sc.Scrape(t)
	before.RequireUp(t)
	db := map[string]string{"datname": "dbstats"}
	c0, ok := before.Value("pg_stat_database_xact_commit_total", db)
	if !ok {
		t.Fatalf("no commit counter for dbstats:\n%s", before.String("pg_stat_database_xact_commit_total"))
	}
	r0, _ := before.Value("pg_stat_database_xact_rollback_total", db)

	conn, err := s.Connect(ctx, "dbstats")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for i := 0; i < 5; i++ {
		if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_ = tx.Rollback(ctx)
	}
	if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS big; CREATE TABLE big AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 20000) g"); err != nil {
		t.Fatal(err)
	}
	// The statistics collector (shared memory stats on 15+) publishes at
	// transaction end, at most every 500 ms (PGSTAT_MIN_INTERVAL); force it.
	if _, err := conn.Exec(ctx, "SELECT pg_stat_force_next_flush()"); err != nil && s.Major >= 15 {
		t.Fatal(err)
	}
	conn.Close(ctx)

	var after families.Result
	deadline := 50
	for i := 0; i < deadline; i++ {
		after = sc.Scrape(t)
		if c, _ := after.Value("pg_stat_database_xact_commit_total", db); c >= c0+5 {
			break
		}
		sleep(100)
	}
	c1, _ := after.Value("pg_stat_database_xact_commit_total", db)
	r1, _ := after.Value("pg_stat_database_xact_rollback_total", db)
	if c1 < c0+5 {
		t.Fatalf("commits went from %v to %v after 5 committed statements", c0, c1)
	}
	if r1 < r0+3 {
		t.Fatalf("rollbacks went from %v to %v after 3 rollbacks", r0, r1)
	}
	size, _ := after.Value("pg_database_size_bytes", db)
	if size < 20000*200 {
		t.Fatalf("database size %v is smaller than the 4 MB table in it", size)
	}
	if _, ok := after.Value("pg_stat_database_numbackends", map[string]string{"datname": "template0"}); ok {
		t.Fatal("template0 (no connections allowed) is reported")
	}
	if s.Major >= 14 {
		if v, ok := after.Value("pg_stat_database_sessions_total", db); !ok || v < 1 {
			t.Fatalf("sessions_total on %d: %v %v", s.Major, v, ok)
		}
	} else if _, ok := after.Value("pg_stat_database_sessions_total", db); ok {
		t.Fatal("sessions_total reported on PostgreSQL 13, which has no session statistics")
	}
}

func TestSettingsInBaseUnits(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	r := scrapetest.New(t, s.SuperuserDSN(""), nil, "settings").Scrape(t)
	r.RequireUp(t)
	ctx := context.Background()
	conn, err := s.Connect(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var sharedBuffersBytes, maxConn float64
	if err := conn.QueryRow(ctx, `SELECT pg_size_bytes(current_setting('shared_buffers'))::float8, current_setting('max_connections')::float8`).Scan(&sharedBuffersBytes, &maxConn); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{
		"pg_settings_shared_buffers_bytes":               sharedBuffersBytes,
		"pg_settings_max_connections":                    maxConn,
		"pg_settings_track_io_timing":                    1, // on, set by TestMain
		"pg_settings_checkpoint_timeout_seconds":         300,
		"pg_settings_autovacuum_naptime_seconds":         60,
		"pg_settings_pg_stat_statements_max":             5000,
		"pg_settings_log_min_duration_statement_seconds": -1,
	} {
		got, ok := r.Value(name, nil)
		if !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
}

func TestPostmasterReportsVersion(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	r := scrapetest.New(t, s.SuperuserDSN(""), nil, "postmaster").Scrape(t)
	r.RequireUp(t)
	v, _ := r.Value("pg_server_version_num", nil)
	if int(v)/10000 != s.Major {
		t.Fatalf("pg_server_version_num %v on a %d server", v, s.Major)
	}
	if st, _ := r.Value("pg_postmaster_start_timestamp_seconds", nil); st < 1.7e9 {
		t.Fatalf("start time %v", st)
	}
}

func TestSettingsLeaveOutTheExportersOwnSession(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	r := scrapetest.New(t, s.SuperuserDSN(""), nil, "settings").Scrape(t)
	if _, ok := r.Value("pg_settings_tcp_keepalives_count_value", nil); !ok {
		t.Error("tcp_keepalives_count is not renamed away from the reserved _count suffix")
	}
	for _, name := range []string{"pg_settings_statement_timeout_seconds", "pg_settings_lock_timeout_seconds", "pg_settings_default_transaction_read_only"} {
		if _, ok := r[name]; ok {
			t.Errorf("%s reports the exporter's session value", name)
		}
	}
}

func TestDatabaseSizesAreCachedForTheirTTL(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	ctx := context.Background()
	if err := s.CreateDatabase(ctx, "dbsizes"); err != nil {
		t.Fatal(err)
	}
	sc := scrapetest.New(t, s.SuperuserDSN("postgres"), nil, "database") // default sizes_ttl: 5m
	db := map[string]string{"datname": "dbsizes"}
	before, ok := sc.Scrape(t).Value("pg_database_size_bytes", db)
	if !ok {
		t.Fatal("no size for dbsizes")
	}
	if err := s.Exec(ctx, "dbsizes", "CREATE TABLE grow AS SELECT g, repeat('x', 500) AS pad FROM generate_series(1, 20000) g"); err != nil {
		t.Fatal(err)
	}
	if after, _ := sc.Scrape(t).Value("pg_database_size_bytes", db); after != before {
		t.Fatalf("size re-read inside its TTL: %v then %v", before, after)
	}
}
