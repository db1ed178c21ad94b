package collector_test

import (
	"context"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/families"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/scrapetest"
)

// Functions tracked in one database (track_functions set for it), the two
// busiest named, the third added up in the aggregate, every value equal to
// the view; a database that tracks none reports nothing.
func TestFunctionsTopNEqualTheView(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	makeFixtureDB(t, s, "fntest",
		"ALTER DATABASE fntest SET track_functions = 'pl'",
		`CREATE OR REPLACE FUNCTION slow(ms int) RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(ms / 1000.0); END $$`,
		`CREATE OR REPLACE FUNCTION slow(label text) RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.05); END $$`,
		`CREATE OR REPLACE FUNCTION quick() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$`)
	// track_functions applies to sessions started after the ALTER DATABASE.
	flushStats(t, s, "fntest", "SELECT slow(200)", "SELECT slow('x')", "SELECT quick() FROM generate_series(1, 5)")
	view := `SELECT funcname || '(' || pg_get_function_identity_arguments(funcid) || ')', calls::float8, total_time / 1000, self_time / 1000
 FROM pg_stat_user_functions`
	awaitValues(t, s, "fntest", "SELECT count(*)::float8 FROM pg_stat_user_functions", func(v []float64) bool { return v[0] == 3 })
	conn, err := s.Connect(context.Background(), "fntest")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	want := map[string][3]float64{}
	rows, err := conn.Query(context.Background(), view)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		var v [3]float64
		if err := rows.Scan(&name, &v[0], &v[1], &v[2]); err != nil {
			t.Fatal(err)
		}
		want[name] = v
	}
	rows.Close()

	r := scrapetest.New(t, s.SuperuserDSN(""), parseConfig(t, "objects:\n  functions:\n    top_n: 2\n"), "functions").Scrape(t)
	r.RequireUp(t)
	fams := []string{"pg_stat_user_functions_calls_total", "pg_stat_user_functions_total_time_seconds_total", "pg_stat_user_functions_self_time_seconds_total"}
	for _, name := range []string{"slow(ms integer)", "slow(label text)"} {
		for i, fam := range fams {
			if v := mustValue(t, r, fam, map[string]string{"datname": "fntest", "schemaname": "public", "funcname": name}); v != want[name][i] {
				t.Errorf("%s %s = %v, the view says %v", name, fam, v, want[name][i])
			}
		}
	}
	rest := map[string]string{"datname": "fntest", "schemaname": "", "funcname": ""}
	for i, fam := range fams {
		if v := mustValue(t, r, fam, rest); v != want["quick()"][i] {
			t.Errorf("aggregate %s = %v, the view says quick() has %v", fam, v, want["quick()"][i])
		}
	}
	if v := mustValue(t, r, "pg_stat_user_functions_calls_total", rest); v != 5 {
		t.Errorf("quick() called %v times, want 5", v)
	}
	// The postgres database keeps the server's track_functions = none.
	if vs := r.Values("pg_stat_user_functions_calls_total", map[string]string{"datname": "postgres"}); len(vs) > 0 {
		t.Errorf("functions reported where track_functions is none: %v", vs)
	}
	if _, ok := r.Value("pg_scrape_collector_success", map[string]string{"collector": "functions", "datname": "postgres"}); ok {
		t.Error("the collector reports success where it does not apply")
	}
}

// Every SLRU cache of the view has its series, each between the view's
// values read before and after the scrape.
func TestSLRUWithinTheView(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	ctx := context.Background()
	conn, err := s.Connect(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	read := func() map[string]float64 {
		t.Helper()
		rows, err := conn.Query(ctx, "SELECT name, blks_hit::float8 + blks_zeroed + blks_written FROM pg_stat_slru")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]float64{}
		for rows.Next() {
			var name string
			var v float64
			if err := rows.Scan(&name, &v); err != nil {
				t.Fatal(err)
			}
			out[name] = v
		}
		return out
	}
	before := read()
	r := scrapetest.New(t, s.SuperuserDSN(""), nil, "stat_slru").Scrape(t)
	r.RequireUp(t)
	after := read()
	if len(before) < 7 {
		t.Fatalf("pg_stat_slru has %d rows", len(before))
	}
	for name, lo := range before {
		l := map[string]string{"slru": name}
		v := mustValue(t, r, "pg_stat_slru_blks_hit_total", l) + mustValue(t, r, "pg_stat_slru_blks_zeroed_total", l) + mustValue(t, r, "pg_stat_slru_blks_written_total", l)
		if v < lo || v > after[name] {
			t.Errorf("%s: hit+zeroed+written %v, the view said %v before and %v after", name, v, lo, after[name])
		}
	}
	if n := len(r.Values("pg_stat_slru_truncates_total", nil)); n != len(before) {
		t.Errorf("%d caches reported, the view has %d", n, len(before))
	}
}

// On a standby: a query cancelled by a replayed lock counts as a lock
// conflict (nothing is reported on the primary), WAL prefetching is
// reported from 15, and a CHECKPOINT counts as a requested restartpoint
// from 17.
func TestStandbyConflictsAndPrefetch(t *testing.T) {
	pgtest.RequireServer(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	primary := pgtest.StartT(t, pgtest.Options{})
	if err := primary.Exec(ctx, "", "CREATE TABLE contested (id int)", "INSERT INTO contested VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	standby := pgtest.StartT(t, pgtest.Options{StandbyOf: primary, Conf: []string{"max_standby_streaming_delay = 0"}})
	cols := []string{"database_conflicts", "recovery_prefetch", "database", "bgwriter"}
	onPrimary := scrapetest.New(t, primary.SuperuserDSN(""), nil, cols...)
	onStandby := scrapetest.New(t, standby.SuperuserDSN(""), nil, cols...)

	p := onPrimary.Scrape(t)
	p.RequireUp(t)
	if _, ok := p["pg_stat_database_conflicts_by_reason_total"]; ok {
		t.Error("conflicts by reason reported on a primary")
	}
	if err := primary.Exec(ctx, "", "CREATE TABLE replayed AS SELECT g FROM generate_series(1, 10000) g"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, onStandby, "the new table replayed", func(families.Result) bool {
		var n int
		c, err := standby.Connect(ctx, "")
		if err != nil {
			return false
		}
		defer c.Close(ctx)
		return c.QueryRow(ctx, "SELECT count(*) FROM replayed").Scan(&n) == nil && n == 10000
	})
	// A standby transaction holds a lock the primary's ACCESS EXCLUSIVE lock
	// needs; with no delay allowed, replay cancels it at once.
	holder, err := standby.Connect(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(context.Background())
	exec(t, holder, "BEGIN", "SELECT * FROM contested")
	if err := primary.Exec(ctx, "", "BEGIN; LOCK TABLE contested IN ACCESS EXCLUSIVE MODE; COMMIT"); err != nil {
		t.Fatal(err)
	}
	lock := map[string]string{"datname": "postgres", "reason": "lock"}
	r := waitFor(t, onStandby, "a lock conflict counted", func(r families.Result) bool {
		v, _ := r.Value("pg_stat_database_conflicts_by_reason_total", lock)
		return v >= 1
	})
	db := map[string]string{"datname": "postgres"}
	if sum, total := r.Sum("pg_stat_database_conflicts_by_reason_total", db), mustValue(t, r, "pg_stat_database_conflicts_total", db); sum != total {
		t.Errorf("conflicts by reason add up to %v, pg_stat_database says %v", sum, total)
	}
	reasons := 5
	if standby.Major >= 16 {
		reasons = 6
	}
	if n := len(r.Values("pg_stat_database_conflicts_by_reason_total", db)); n != reasons {
		t.Errorf("%d reasons on %d, want %d", n, standby.Major, reasons)
	}

	if standby.Major >= 17 {
		if err := standby.Exec(ctx, "", "CHECKPOINT"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, onStandby, "a requested restartpoint counted", func(r families.Result) bool {
			v, _ := r.Value("pg_stat_checkpointer_restartpoints_req_total", nil)
			return v >= 1
		})
	}
	_, ok := r["pg_stat_recovery_prefetch_prefetch_total"]
	if ok != (standby.Major >= 15) {
		t.Fatalf("recovery prefetch present %v on %d; the view exists from 15", ok, standby.Major)
	}
	if ok {
		var examined float64
		for _, fam := range []string{"prefetch", "hit", "skip_init", "skip_new", "skip_fpw", "skip_rep"} {
			examined += mustValue(t, r, "pg_stat_recovery_prefetch_"+fam+"_total", nil)
		}
		if examined == 0 {
			t.Error("a standby that replayed 10 000 rows examined no block for prefetching")
		}
	}
}
