package collector_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/scrapetest"
)

// A SQL_ASCII database starts a session in its own encoding, which pgx
// refuses: the exporter asks for UTF8 itself, so such a database is scraped
// like any other. A name there that is not valid UTF-8 fails the reads that
// return it (the server checks what it sends), and those collectors alone,
// loudly; the rest of the scrape stands.
func TestSQLASCIIDatabase(t *testing.T) {
	pgtest.Integration(t)
	s := pgtest.StartT(t, pgtest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.Exec(ctx, "postgres", "CREATE DATABASE legacy ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"); err != nil {
		t.Fatal(err)
	}
	if err := s.Exec(ctx, "legacy", "CREATE TABLE orders (id int PRIMARY KEY)", "ANALYZE orders"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateMonitorRole(ctx, "legacy_monitor", "legacypw"); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	// Connected to the SQL_ASCII database itself, visiting it and postgres.
	scraper := func() *scrapetest.Scraper {
		return scrapetest.New(t, s.DSN("legacy_monitor", "legacypw", "legacy"), cfg,
			"activity", "database", "postmaster", "tables", "indexes", "bloat", "schema", "functions")
	}
	r := scraper().Scrape(t)
	r.RequireUp(t)
	if _, ok := r.Value("pg_stat_user_tables_n_live_tup", map[string]string{"datname": "legacy", "relname": "orders"}); !ok {
		t.Errorf("no row for legacy's orders table:\n%s", r.String("pg_stat_user_tables_n_live_tup"))
	}

	// "café" in Latin-1: byte 0xe9 is not UTF-8. SQL_ASCII stores it as is.
	if err := s.Exec(ctx, "legacy", `DO $$ BEGIN
  EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY)', convert_from('\x636166e9'::bytea, 'SQL_ASCII'));
END $$`); err != nil {
		t.Fatal(err)
	}
	// A new exporter (the object lists of a running one are re-read on
	// their own schedule).
	r = scraper().Scrape(t)
	if v, ok := r.Value("pg_up", nil); !ok || v != 1 {
		t.Fatalf("pg_up = %v (present %v) with a Latin-1 table name in a SQL_ASCII database", v, ok)
	}
	failed := r.Failed()
	for _, f := range failed {
		if !slices.Contains([]string{"tables/legacy", "indexes/legacy", "bloat/legacy", "schema/legacy"}, f) {
			t.Errorf("collector %s failed; only those reading legacy's table names may", f)
		}
	}
	if !slices.Contains(failed, "tables/legacy") {
		t.Errorf("the tables collector did not report the unreadable name (failed: %v)", failed)
	}
	if _, ok := r.Value("pg_stat_database_xact_commit_total", map[string]string{"datname": "legacy"}); !ok {
		t.Errorf("the server-wide families went missing with the per-table ones")
	}

	// A database named in Latin-1 from the SQL_ASCII one: the shared catalog
	// holds the bytes as written, and every session, in any database, reads
	// them unconverted. Its series carry U+FFFD for the bad byte.
	if err := s.Exec(ctx, "postgres", "CREATE DATABASE to_rename"); err != nil {
		t.Fatal(err)
	}
	if err := s.Exec(ctx, "legacy", `DO $$ BEGIN
  EXECUTE format('ALTER DATABASE to_rename RENAME TO %I', convert_from('\x636166e9'::bytea, 'SQL_ASCII'));
END $$`); err != nil {
		t.Fatal(err)
	}
	r = scrapetest.New(t, s.DSN("legacy_monitor", "legacypw", "postgres"), cfg, "database", "wraparound", "activity").Scrape(t)
	r.RequireUp(t)
	if _, ok := r.Value("pg_stat_database_xact_commit_total", map[string]string{"datname": "caf\uFFFD"}); !ok {
		t.Errorf("no pg_stat_database row for the Latin-1 database name:\n%s", r.String("pg_stat_database_xact_commit_total"))
	}
}
