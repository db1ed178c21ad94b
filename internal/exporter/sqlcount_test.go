package exporter_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/exporter"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
)

// statementsPerScrape is how many statements a warm scrape of the default
// collectors and the shipped queries.yaml runs as a pg_monitor role on a
// fresh server with one database, by major version: the collectors read
// more views on later versions (pg_stat_statements_info, pg_stat_wal and the
// replication slot statistics from 14, pg_stat_subscription_stats and
// pg_stat_recovery_prefetch from 15, pg_stat_io from 16). Each of the shipped file's five queries without a ttl costs five
// (BEGIN READ ONLY, its predicate, which finds no table here, COMMIT, RESET
// ALL, RESET ROLE); the two with a ttl cost nothing on a warm scrape. The rest is one per
// built-in collector and view, plus the facts.
var statementsPerScrape = map[int]int{13: 53, 14: 56, 15: 58, 16: 59, 17: 59, 18: 59}

// A warm scrape runs a known number of statements, counted by
// pg_stat_statements (utility statements included, as bench/run.sh counts
// them). A collector or query that adds a statement to every scrape changes
// the count here, and the table above with it.
func TestStatementsPerScrape(t *testing.T) {
	s := pgtest.StartT(t, pgtest.Options{Conf: []string{"shared_preload_libraries = 'pg_stat_statements'",
		"pg_stat_statements.track_utility = on", "pg_stat_statements.track = top"}})
	want, ok := statementsPerScrape[s.Major]
	if !ok {
		t.Fatalf("no statement count known for PostgreSQL %d; measure it and add it to statementsPerScrape", s.Major)
	}
	ctx := context.Background()
	if err := s.Exec(ctx, "", "CREATE EXTENSION pg_stat_statements"); err != nil {
		t.Fatal(err)
	}
	dsn, err := s.CreateMonitorRole(ctx, "counted", "counted-pw")
	if err != nil {
		t.Fatal(err)
	}
	queries, err := os.ReadFile("../../queries.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("counted.yml", []byte("{}\n"))
	if err != nil {
		t.Fatal(err)
	}
	exp, err := exporter.NewFromConfig(exporter.Settings{Collectors: exporter.DefaultCollectors(), BuiltinQueries: queries,
		Default: mustConn(t, dsn), Logger: quiet,
		Timeouts: exporter.Timeouts{Offset: 100 * time.Millisecond, Default: time.Minute, Max: time.Minute}}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Close()
	scrape := func() {
		t.Helper()
		r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		w := httptest.NewRecorder()
		exp.Server.Metrics(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("scrape answered %d: %s", w.Code, w.Body)
		}
		for _, l := range strings.Split(w.Body.String(), "\n") {
			if strings.HasPrefix(l, "pg_scrape_collector_success{") && strings.HasSuffix(l, " 0") {
				t.Errorf("a collector failed, so the count would be off: %s", l)
			}
		}
	}
	scrape() // cold: sizes, object choice, settings, privileges
	scrape() // warm-up
	conn, err := s.Connect(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_stat_statements_reset()"); err != nil {
		t.Fatal(err)
	}
	scrape()
	rows, err := conn.Query(ctx, `SELECT s.calls, regexp_replace(s.query, '\s+', ' ', 'g')
 FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
 WHERE r.rolname = 'counted' ORDER BY s.calls DESC, s.query`)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	var list strings.Builder
	for rows.Next() {
		var n int
		var q string
		if err := rows.Scan(&n, &q); err != nil {
			t.Fatal(err)
		}
		total += n
		if len(q) > 120 {
			q = q[:120] + "..."
		}
		fmt.Fprintf(&list, "%4d  %s\n", n, q)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if total != want {
		t.Fatalf("a warm scrape of the default collectors ran %d statements on PostgreSQL %d, not %d: "+
			"a statement per scrape is a cost for every user; fold it into another read, cache it in the collector's TTL, "+
			"or, if it is worth it, change statementsPerScrape (and the SQL/scrape sentences of docs/benchmarks.md). Calls by statement:\n%s",
			total, s.Major, want, list.String())
	}
	t.Logf("PostgreSQL %d: %d statements per scrape:\n%s", s.Major, total, list.String())
}

// A privilege the exporter found missing is remembered between scrapes and
// asked again after a reload of the exporter: granting it and reloading is
// enough, the default target keeping its connections.
func TestReloadAsksPrivilegesAgain(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	ctx := context.Background()
	dsn, err := s.CreateMonitorRole(ctx, "reload_monitor", "reload-monitor-pw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.Exec(ctx, "", "REVOKE SELECT ON pg_file_settings FROM reload_monitor",
			"REVOKE EXECUTE ON FUNCTION pg_show_all_file_settings() FROM reload_monitor")
	})
	h := start(t, "{}\n", dsn)
	readable := func() float64 {
		t.Helper()
		code, mfs, body, _ := h.get(t, "/metrics", 10*time.Second)
		if code != http.StatusOK {
			t.Fatalf("scrape answered %d: %s", code, body)
		}
		v, ok := gauge(mfs, "pg_config_files_readable", map[string]string{"view": "pg_file_settings"})
		if !ok {
			t.Fatal("pg_config_files_readable{view=\"pg_file_settings\"} absent")
		}
		return v
	}
	if v := readable(); v != 0 {
		t.Fatalf("pg_file_settings readable = %v for a pg_monitor role", v)
	}
	if err := s.Exec(ctx, "", "GRANT SELECT ON pg_file_settings TO reload_monitor",
		"GRANT EXECUTE ON FUNCTION pg_show_all_file_settings() TO reload_monitor"); err != nil {
		t.Fatal(err)
	}
	if v := readable(); v != 0 {
		t.Fatalf("readable = %v right after the grant: the answer was not remembered", v)
	}
	if err := h.reload.Reload(); err != nil {
		t.Fatal(err)
	}
	if v := readable(); v != 1 {
		t.Fatalf("readable = %v after the grant and a reload of the exporter", v)
	}
}
