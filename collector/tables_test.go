package collector_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/families"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/scrapetest"
)

// fixture creates db and runs the statements in it.
func makeFixtureDB(t *testing.T, s *pgtest.Server, db string, sql ...string) {
	t.Helper()
	ctx := context.Background()
	if err := s.CreateDatabase(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := s.Exec(ctx, db, sql...); err != nil {
		t.Fatal(err)
	}
}

// flushStats makes the statistics of db's finished transactions visible: on
// 15+ the backend flushes at most every second unless asked; before 15 the
// statistics collector receives them within half a second.
func flushStats(t *testing.T, s *pgtest.Server, db string, sql ...string) {
	t.Helper()
	if s.Major >= 15 {
		sql = append(sql, "SELECT pg_stat_force_next_flush()")
	}
	if err := s.Exec(context.Background(), db, sql...); err != nil {
		t.Fatal(err)
	}
}

// awaitValues runs a query of float8 columns (NULL reads as 0) in db until
// done holds of them or 30 seconds pass, and returns the last answer.
// Before 15 the statistics collector rewrites its file for readers, which
// takes seconds on a busy machine with thousands of tables.
func awaitValues(t *testing.T, s *pgtest.Server, db, query string, done func([]float64) bool) []float64 {
	t.Helper()
	ctx := context.Background()
	for deadline := time.Now().Add(30 * time.Second); ; sleep(100) {
		conn, err := s.Connect(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := conn.Query(ctx, query)
		var vals []float64
		if err == nil {
			for rows.Next() {
				vs, err := rows.Values()
				if err != nil {
					t.Fatal(err)
				}
				for _, v := range vs {
					f, ok := v.(float64)
					if !ok && v != nil {
						t.Fatalf("awaitValues: a column of %T; cast it to float8", v)
					}
					vals = append(vals, f)
				}
			}
			err = rows.Err()
		}
		conn.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if done(vals) || time.Now().After(deadline) {
			return vals
		}
	}
}

// scrapeUntil scrapes until ok holds or five seconds pass, and returns the
// last result.
func scrapeFor(t *testing.T, sc *scrapetest.Scraper, ok func(families.Result) bool) families.Result {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := sc.Scrape(t)
		r.RequireUp(t)
		if ok(r) || time.Now().After(deadline) {
			return r
		}
		sleep(100)
	}
}

func rel(db, table string) map[string]string {
	return map[string]string{"datname": db, "schemaname": "public", "relname": table}
}

func TestTablesDeadTuplesVacuumAndSequentialScans(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	makeFixtureDB(t, s, "tabstats",
		"CREATE TABLE dead (id int PRIMARY KEY, v int) WITH (autovacuum_enabled = off)",
		"INSERT INTO dead SELECT g, g FROM generate_series(1, 40000) g",
		"DELETE FROM dead WHERE id <= 20000",
		"CREATE TABLE scanned (id int, pad text) WITH (autovacuum_enabled = off)",
		"INSERT INTO scanned SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g")
	flushStats(t, s, "tabstats", "SELECT count(*) FROM scanned", "SELECT count(*) FROM scanned", "SELECT count(*) FROM scanned")
	sc := scrapetest.New(t, s.SuperuserDSN("postgres"), nil, "tables")
	r := scrapeFor(t, sc, func(r families.Result) bool {
		d, _ := r.Value("pg_stat_user_tables_n_dead_tup", rel("tabstats", "dead"))
		n, _ := r.Value("pg_stat_user_tables_seq_scan_total", rel("tabstats", "scanned"))
		return d >= 20000 && n >= 3
	})
	if d, _ := r.Value("pg_stat_user_tables_n_dead_tup", rel("tabstats", "dead")); d != 20000 {
		t.Fatalf("n_dead_tup %v after deleting 20000 rows", d)
	}
	if n, _ := r.Value("pg_stat_user_tables_seq_scan_total", rel("tabstats", "scanned")); n < 3 {
		t.Fatalf("seq_scan %v after three full scans", n)
	}
	if n, _ := r.Value("pg_stat_user_tables_seq_tup_read_total", rel("tabstats", "scanned")); n < 60000 {
		t.Fatalf("seq_tup_read %v after three scans of 20000 rows", n)
	}
	if sz, _ := r.Value("pg_table_size_bytes", rel("tabstats", "scanned")); sz < 20000*100 {
		t.Fatalf("table size %v for 2 MB of rows", sz)
	}
	if _, ok := r.Value("pg_stat_user_tables_last_vacuum_timestamp_seconds", rel("tabstats", "dead")); ok {
		t.Fatal("last_vacuum reported for a table never vacuumed")
	}
	before := float64(time.Now().Unix()) - 1
	flushStats(t, s, "tabstats", "VACUUM dead")
	r = scrapeFor(t, sc, func(r families.Result) bool {
		_, ok := r.Value("pg_stat_user_tables_last_vacuum_timestamp_seconds", rel("tabstats", "dead"))
		return ok
	})
	if v, _ := r.Value("pg_stat_user_tables_last_vacuum_timestamp_seconds", rel("tabstats", "dead")); v < before {
		t.Fatalf("last_vacuum %v, VACUUM ran after %v", v, before)
	}
	if d, _ := r.Value("pg_stat_user_tables_n_dead_tup", rel("tabstats", "dead")); d != 0 {
		t.Fatalf("n_dead_tup %v after VACUUM", d)
	}
	if n, _ := r.Value("pg_stat_user_tables_vacuum_count_total", rel("tabstats", "dead")); n != 1 {
		t.Fatalf("vacuum_count %v after one VACUUM", n)
	}
}

func idx(db, table, index string) map[string]string {
	return map[string]string{"datname": db, "schemaname": "public", "relname": table, "indexrelname": index}
}

func TestIndexesUnusedAndInvalid(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	makeFixtureDB(t, s, "idxstats",
		"CREATE TABLE t (id int PRIMARY KEY, v int, w int)",
		"INSERT INTO t SELECT g, g, g FROM generate_series(1, 100000) g",
		"CREATE INDEX t_v_unused ON t (v)",
		"CREATE INDEX t_w_used ON t (w)",
		"CREATE TABLE small (id int PRIMARY KEY, v int)",
		"CREATE INDEX small_v ON small (v)",
		"CREATE TABLE dup (x int)",
		"INSERT INTO dup VALUES (1), (1)")
	flushStats(t, s, "idxstats", "SET enable_seqscan = off; SELECT count(*) FROM t WHERE w = 5")
	// A unique index on duplicates fails and is left behind, invalid.
	if err := s.Exec(context.Background(), "idxstats", "CREATE UNIQUE INDEX CONCURRENTLY dup_x ON dup (x)"); err == nil || !strings.Contains(err.Error(), "23505") {
		t.Fatalf("CREATE UNIQUE INDEX CONCURRENTLY on duplicates: %v", err)
	}
	sc := scrapetest.New(t, s.SuperuserDSN("postgres"), nil, "indexes")
	r := scrapeFor(t, sc, func(r families.Result) bool {
		v, _ := r.Value("pg_stat_user_indexes_idx_scan_total", idx("idxstats", "t", "t_w_used"))
		return v >= 1
	})
	if v, ok := r.Value("pg_index_unused", idx("idxstats", "t", "t_v_unused")); !ok || v != 1 {
		t.Fatalf("t_v_unused (2 MB, never scanned) not reported unused:\n%s", r.String("pg_index_unused"))
	}
	for _, notUnused := range []map[string]string{idx("idxstats", "t", "t_w_used"), idx("idxstats", "t", "t_pkey"), idx("idxstats", "small", "small_v")} {
		if _, ok := r.Value("pg_index_unused", notUnused); ok {
			t.Errorf("%v reported unused (used, a primary key, or under 1 MB)", notUnused)
		}
	}
	if n, _ := r.Value("pg_indexes_unused", map[string]string{"datname": "idxstats"}); n != 1 {
		t.Errorf("pg_indexes_unused %v, want 1", n)
	}
	if v, ok := r.Value("pg_index_invalid", idx("idxstats", "dup", "dup_x")); !ok || v != 1 {
		t.Fatalf("dup_x left invalid is not reported:\n%s", r.String("pg_index_invalid"))
	}
	if sz, _ := r.Value("pg_index_size_bytes", idx("idxstats", "t", "t_v_unused")); sz < 1<<20 {
		t.Fatalf("index size %v for 100000 entries", sz)
	}
	// A role with only pg_monitor sees the same.
	monDSN, err := s.CreateMonitorRole(context.Background(), "monitor_indexes", "monpw")
	if err != nil {
		t.Fatal(err)
	}
	m := scrapetest.New(t, monDSN, nil, "indexes").Scrape(t)
	m.RequireUp(t)
	if v, _ := m.Value("pg_index_unused", idx("idxstats", "t", "t_v_unused")); v != 1 {
		t.Error("the pg_monitor role does not see the unused index")
	}
	if v, _ := m.Value("pg_index_invalid", idx("idxstats", "dup", "dup_x")); v != 1 {
		t.Error("the pg_monitor role does not see the invalid index")
	}
}

// With 10 000 tables and top_n 500, each per-table family has 501 series per
// database (500 tables and the rest), and the sums still equal the database's.
func TestTableAndIndexLimitsBoundSeriesAndKeepTotals(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	// 1 000 tables per transaction keeps the locks within the default
	// max_locks_per_transaction.
	var sql []string
	for lo := 1; lo <= 10000; lo += 1000 {
		sql = append(sql, fmt.Sprintf(`DO $$ BEGIN FOR i IN %d..%d LOOP EXECUTE format('CREATE TABLE t%%s (id int PRIMARY KEY)', i); END LOOP; END $$`, lo, lo+999))
	}
	makeFixtureDB(t, s, "manytables", sql...)
	// The rows go in from a session of their own: before 15 a session
	// sends its statistics to the collector as datagrams at its end, and a
	// burst for 20 000 relations can overflow the collector's socket and be
	// lost.
	flushStats(t, s, "manytables", `DO $$ BEGIN FOR i IN 1..40 LOOP EXECUTE format('INSERT INTO t%s SELECT generate_series(1, %s)', i * 7, i * 100); END LOOP; END $$`)
	cfg, err := config.Parse("test.yml", []byte(`objects:
  tables:
    top_n: 500
    exclude: ['public\.t1\d*']
  indexes:
    top_n: 500
`))
	if err != nil {
		t.Fatal(err)
	}
	want := awaitValues(t, s, "manytables", "SELECT sum(n_tup_ins)::float8 FROM pg_stat_user_tables", func(v []float64) bool { return v[0] >= 82000 })[0]
	if want != 82000 { // 100 * (1 + ... + 40)
		t.Fatalf("the fixture inserted %v rows, want 82000", want)
	}
	r := scrapetest.New(t, s.SuperuserDSN("postgres"), cfg, "tables", "indexes").Scrape(t)
	r.RequireUp(t)
	db := map[string]string{"datname": "manytables"}
	for _, fam := range []string{"pg_stat_user_tables_n_tup_ins_total", "pg_statio_user_tables_heap_blks_hit_total", "pg_table_size_bytes", "pg_stat_user_indexes_idx_scan_total", "pg_index_size_bytes"} {
		if n := len(r.Values(fam, db)); n != 501 {
			t.Errorf("%s has %d series for manytables, want 501", fam, n)
		}
	}
	if got := r.Sum("pg_stat_user_tables_n_tup_ins_total", db); got != want {
		t.Errorf("n_tup_ins over reported tables and the rest is %v, the database has %v", got, want)
	}
	if v, _ := r.Value("pg_tables_reported", db); v != 500 {
		t.Errorf("pg_tables_reported %v", v)
	}
	if v, _ := r.Value("pg_tables_folded", db); v != 9500 {
		t.Errorf("pg_tables_folded %v", v)
	}
	if v, _ := r.Value("pg_indexes_folded", db); v != 9500 {
		t.Errorf("pg_indexes_folded %v", v)
	}
	for _, m := range r["pg_stat_user_tables_n_tup_ins_total"].GetMetric() {
		if name := labelValue(m, "relname"); labelValue(m, "datname") == "manytables" && strings.HasPrefix(name, "t1") {
			t.Errorf("excluded table %s reported", name)
		}
	}
}

// The choice of tables and indexes is kept between scrapes (until the sizes
// are read again) and made again when objects are created or dropped; a
// temporary table does not cause a new choice and is summed into the rest.
// On every scrape the reported tables and the rest add up to the database.
func TestObjectChoiceFollowsCreatedAndDroppedObjects(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	makeFixtureDB(t, s, "choice",
		"CREATE TABLE a (id int PRIMARY KEY)", "CREATE TABLE b (id int PRIMARY KEY)",
		"CREATE TABLE big (id int)", "INSERT INTO big SELECT generate_series(1, 100000)")
	cfg, err := config.Parse("test.yml", []byte("objects:\n  tables: {top_n: 3}\n  indexes: {top_n: 3}\n"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sc := scrapetest.New(t, s.SuperuserDSN("postgres"), cfg, "tables", "indexes")
	db := map[string]string{"datname": "choice"}
	// scrape waits until the server's statistics show the rows inserted (so
	// that a new choice sees them), scrapes, and checks that the reported
	// tables and the rest add up to them.
	scrape := func(inserted float64) families.Result {
		t.Helper()
		flushStats(t, s, "choice")
		have := awaitValues(t, s, "choice", "SELECT sum(n_tup_ins)::float8 FROM pg_stat_user_tables", func(v []float64) bool { return v[0] == inserted })[0]
		if have != inserted {
			t.Fatalf("the server's statistics show %v rows inserted, want %v", have, inserted)
		}
		r := sc.Scrape(t)
		r.RequireUp(t)
		if got := r.Sum("pg_stat_user_tables_n_tup_ins_total", db); got != inserted {
			t.Fatalf("n_tup_ins over reported tables and the rest is %v, want %v", got, inserted)
		}
		return r
	}
	reported := func(r families.Result, fam, table string) bool {
		_, ok := r.Value(fam, rel("choice", table))
		return ok
	}

	r := scrape(100000)
	for _, tb := range []string{"a", "b", "big"} {
		if !reported(r, "pg_stat_user_tables_n_tup_ins_total", tb) {
			t.Fatalf("table %s not reported with 3 tables and top_n 3", tb)
		}
	}

	// Rows written after the choice are counted on the next scrape, in the
	// table's own series or in the rest.
	if err := s.Exec(ctx, "choice", "INSERT INTO big SELECT generate_series(1, 500)", "INSERT INTO a VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	scrape(100501)

	// A fourth table with more rows written than a and b: the scrape that
	// first sees it sums it into the rest, the next gives it a slot (with
	// its size, read then).
	if err := s.Exec(ctx, "choice", "CREATE TABLE c (id int PRIMARY KEY)", "INSERT INTO c SELECT generate_series(1, 1000)"); err != nil {
		t.Fatal(err)
	}
	r = scrape(101501)
	if reported(r, "pg_stat_user_tables_n_tup_ins_total", "c") {
		t.Fatal("table c is reported by the scrape that first sees it; the choice is made at the next")
	}
	if v, _ := r.Value("pg_tables_folded", db); v != 1 {
		t.Fatalf("pg_tables_folded %v with table c new beside 3 chosen tables", v)
	}
	r = scrape(101501)
	if sz, _ := r.Value("pg_table_size_bytes", rel("choice", "c")); sz < 8192 {
		t.Fatalf("table c of 1 000 rows created after the sizes were read has size %v", sz)
	}
	if !reported(r, "pg_stat_user_tables_n_tup_ins_total", "c") {
		t.Fatalf("table c created after the choice is not reported:\n%s", r.String("pg_stat_user_tables_n_tup_ins_total"))
	}
	if _, ok := r.Value("pg_stat_user_indexes_idx_scan_total", idx("choice", "c", "c_pkey")); !ok {
		t.Fatalf("index c_pkey created after the choice is not reported:\n%s", r.String("pg_stat_user_indexes_idx_scan_total"))
	}
	if v, _ := r.Value("pg_tables_folded", db); v != 1 {
		t.Fatalf("pg_tables_folded %v with 4 tables and top_n 3", v)
	}

	// A dropped table leaves at once, and its rows leave the sums with it;
	// its slot goes to the folded table at the next scrape.
	if err := s.Exec(ctx, "choice", "DROP TABLE c"); err != nil {
		t.Fatal(err)
	}
	r = scrape(100501)
	if reported(r, "pg_stat_user_tables_n_tup_ins_total", "c") {
		t.Fatal("dropped table c is still reported")
	}
	r = scrape(100501)
	if v, _ := r.Value("pg_tables_reported", db); v != 3 {
		t.Fatalf("pg_tables_reported %v after the drop, want 3", v)
	}

	// A temporary table, held by an open session, is summed into the rest,
	// and never chosen, even with 20 000 rows changed since it was analyzed
	// (never, by autovacuum) when a new table makes a new choice.
	conn, err := s.Connect(ctx, "choice")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE TEMP TABLE scratch AS SELECT generate_series(1, 20000) AS id"); err != nil {
		t.Fatal(err)
	}
	// Before 15 an idle session sends its statistics at the end of a
	// transaction at most every 500 ms: one more transaction after that.
	flush := "SELECT 1"
	if s.Major >= 15 {
		flush = "SELECT pg_stat_force_next_flush()"
	} else {
		sleep(600)
	}
	if _, err := conn.Exec(ctx, flush); err != nil {
		t.Fatal(err)
	}
	r = scrape(120501)
	if v, _ := r.Value("pg_tables_folded", db); v != 1 {
		t.Fatalf("pg_tables_folded %v with a temporary table beside 3 chosen tables, want 1", v)
	}
	if err := s.Exec(ctx, "choice", "CREATE TABLE d (id int)"); err != nil {
		t.Fatal(err)
	}
	scrape(120501)
	r = scrape(120501)
	for _, m := range r["pg_stat_user_tables_n_tup_ins_total"].GetMetric() {
		if strings.HasPrefix(labelValue(m, "schemaname"), "pg_temp") {
			t.Fatalf("temporary table %s.%s chosen", labelValue(m, "schemaname"), labelValue(m, "relname"))
		}
	}
	if v, _ := r.Value("pg_tables_reported", db); v != 3 {
		t.Fatalf("pg_tables_reported %v with 4 permanent tables and top_n 3", v)
	}
}

// A table that needs a VACUUM gets a slot before larger and busier tables,
// so PostgresDeadTuplesHigh can see it whatever top_n; with the threshold
// off it competes on size and activity like the others, and loses here.
func TestTablesDueForMaintenanceAreChosenFirst(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	makeFixtureDB(t, s, "duedb",
		"CREATE TABLE big (id int, pad text) WITH (autovacuum_enabled = off)",
		"INSERT INTO big SELECT g, repeat('x', 200) FROM generate_series(1, 50000) g",
		"CREATE TABLE busy (id int) WITH (autovacuum_enabled = off)",
		"INSERT INTO busy SELECT generate_series(1, 100000)",
		"CREATE TABLE dead (id int) WITH (autovacuum_enabled = off)",
		"INSERT INTO dead SELECT generate_series(1, 30000)")
	// The rows inserted must reach the statistics before ANALYZE resets
	// the changes counted since the last one.
	flushStats(t, s, "duedb")
	sleep(600)
	flushStats(t, s, "duedb", "ANALYZE big, busy, dead", "DELETE FROM dead WHERE id <= 20000")
	v := awaitValues(t, s, "duedb", `SELECT (SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'dead')::float8,
 (SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relname = 'busy')::float8`, func(v []float64) bool { return v[0] == 20000 && v[1] == 0 })
	if v[0] != 20000 || v[1] != 0 {
		t.Fatalf("the server shows %v dead rows in dead (want 20000) and %v rows changed in busy since ANALYZE (want 0)", v[0], v[1])
	}
	chosen := func(yml string) map[string]bool {
		cfg, err := config.Parse("test.yml", []byte(yml))
		if err != nil {
			t.Fatal(err)
		}
		r := scrapetest.New(t, s.SuperuserDSN("postgres"), cfg, "tables").Scrape(t)
		r.RequireUp(t)
		got := map[string]bool{}
		for _, tb := range []string{"big", "busy", "dead"} {
			_, got[tb] = r.Value("pg_stat_user_tables_n_dead_tup", rel("duedb", tb))
		}
		return got
	}
	// top_n 2: dead first, then the larger of the rest.
	if got := chosen("objects:\n  tables: {top_n: 2}\n"); !got["dead"] || !got["big"] || got["busy"] {
		t.Errorf("with the default thresholds the reported tables are %v, want dead and big", got)
	}
	// Thresholds off: one slot by size (big), one by activity (busy, 100 000
	// rows inserted against dead's 50 000 written).
	if got := chosen("objects:\n  tables:\n    top_n: 2\n    maintenance_due: {dead_tuples: 0, mod_since_analyze: 0}\n"); got["dead"] || !got["big"] || !got["busy"] {
		t.Errorf("with the thresholds off the reported tables are %v, want big and busy", got)
	}
}
