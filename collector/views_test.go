package collector_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/families"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/scrapetest"
)

// The tables and indexes collectors read the statistics functions behind
// pg_stat_user_tables, pg_statio_user_tables, pg_stat_user_indexes and
// pg_statio_user_indexes, grouped on the server. On a quiet database every
// value they report equals the views' column, for each reported object and,
// summed, for the rest.
func TestTableAndIndexStatsEqualTheViews(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	var sql []string
	for i := 1; i <= 6; i++ {
		sql = append(sql,
			fmt.Sprintf("CREATE TABLE v%d (id int PRIMARY KEY, k int, doc text) WITH (autovacuum_enabled = off, toast.autovacuum_enabled = off)", i),
			fmt.Sprintf("CREATE INDEX v%d_k ON v%d (k)", i, i),
			// Rows of 3 kB of incompressible text go to TOAST.
			fmt.Sprintf("INSERT INTO v%d SELECT g, g %% 7, (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 100)) FROM generate_series(1, %d) g", i, 200*i),
			fmt.Sprintf("UPDATE v%d SET k = k + 1 WHERE id %% 3 = 0", i),
			fmt.Sprintf("DELETE FROM v%d WHERE id %% 5 = 0", i),
			fmt.Sprintf("SELECT count(*) FROM v%d", i),
			fmt.Sprintf("SET enable_seqscan = off; SELECT length(doc) FROM v%d WHERE k = 3", i))
	}
	sql = append(sql, "CREATE TABLE noindex (x int) WITH (autovacuum_enabled = off)", "INSERT INTO noindex VALUES (1)",
		// A partitioned table is in pg_stat_user_tables from 14 only.
		"CREATE TABLE parted (x int) PARTITION BY RANGE (x)",
		"CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (10) WITH (autovacuum_enabled = off)",
		"INSERT INTO parted VALUES (1)",
		"VACUUM v1", "ANALYZE v2")
	makeFixtureDB(t, s, "views", sql...)
	flushStats(t, s, "views")
	sleep(600) // before 15 the statistics collector needs a moment
	cfg, err := config.Parse("test.yml", []byte("objects:\n  tables: {top_n: 3}\n  indexes: {top_n: 4}\n"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := s.Connect(ctx, "views")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	tableFams := []string{"pg_stat_user_tables_seq_scan_total", "pg_stat_user_tables_seq_tup_read_total",
		"pg_stat_user_tables_idx_scan_total", "pg_stat_user_tables_idx_tup_fetch_total",
		"pg_stat_user_tables_n_tup_ins_total", "pg_stat_user_tables_n_tup_upd_total", "pg_stat_user_tables_n_tup_del_total",
		"pg_stat_user_tables_n_tup_hot_upd_total", "pg_stat_user_tables_n_live_tup", "pg_stat_user_tables_n_dead_tup",
		"pg_stat_user_tables_n_mod_since_analyze", "pg_stat_user_tables_vacuum_count_total",
		"pg_stat_user_tables_autovacuum_count_total", "pg_stat_user_tables_analyze_count_total",
		"pg_stat_user_tables_autoanalyze_count_total", "pg_statio_user_tables_heap_blks_read_total",
		"pg_statio_user_tables_heap_blks_hit_total", "pg_statio_user_tables_idx_blks_read_total",
		"pg_statio_user_tables_idx_blks_hit_total", "pg_statio_user_tables_toast_blks_read_total",
		"pg_statio_user_tables_toast_blks_hit_total"}
	tableView := `SELECT s.schemaname, s.relname, s.seq_scan, s.seq_tup_read, COALESCE(s.idx_scan, 0), COALESCE(s.idx_tup_fetch, 0),
 s.n_tup_ins, s.n_tup_upd, s.n_tup_del, s.n_tup_hot_upd, s.n_live_tup, s.n_dead_tup, s.n_mod_since_analyze,
 s.vacuum_count, s.autovacuum_count, s.analyze_count, s.autoanalyze_count,
 io.heap_blks_read, io.heap_blks_hit, COALESCE(io.idx_blks_read, 0), COALESCE(io.idx_blks_hit, 0),
 COALESCE(io.toast_blks_read, 0) + COALESCE(io.tidx_blks_read, 0), COALESCE(io.toast_blks_hit, 0) + COALESCE(io.tidx_blks_hit, 0)
 FROM pg_stat_user_tables s JOIN pg_statio_user_tables io USING (relid)`
	indexFams := []string{"pg_stat_user_indexes_idx_scan_total", "pg_stat_user_indexes_idx_tup_read_total",
		"pg_stat_user_indexes_idx_tup_fetch_total", "pg_statio_user_indexes_idx_blks_read_total",
		"pg_statio_user_indexes_idx_blks_hit_total"}
	indexView := `SELECT s.schemaname, s.relname || '.' || s.indexrelname, s.idx_scan, s.idx_tup_read, s.idx_tup_fetch,
 io.idx_blks_read, io.idx_blks_hit
 FROM pg_stat_user_indexes s JOIN pg_statio_user_indexes io USING (indexrelid)`

	// The views, read before and after the scrape: equal reads mean nothing
	// moved in between.
	var tables, indexes map[string][]float64
	var r families.Result
	for try := 0; ; try++ {
		tables, indexes = readView(t, conn, tableView, len(tableFams)), readView(t, conn, indexView, len(indexFams))
		r = scrapetest.New(t, s.SuperuserDSN("postgres"), cfg, "tables", "indexes").Scrape(t)
		r.RequireUp(t)
		t2, i2 := readView(t, conn, tableView, len(tableFams)), readView(t, conn, indexView, len(indexFams))
		if reflect.DeepEqual(tables, t2) && reflect.DeepEqual(indexes, i2) {
			break
		}
		if try == 5 {
			t.Fatal("the statistics views kept changing on a quiet database")
		}
		sleep(600)
	}
	if len(tables) != 8 || len(indexes) != 12 {
		t.Fatalf("the views show %d tables and %d indexes, want 8 and 12", len(tables), len(indexes))
	}
	var all float64
	if err := conn.QueryRow(ctx, "SELECT count(*)::float8 FROM pg_stat_user_tables").Scan(&all); err != nil {
		t.Fatal(err)
	}
	db := map[string]string{"datname": "views"}
	reported, _ := r.Value("pg_tables_reported", db)
	folded, _ := r.Value("pg_tables_folded", db)
	if reported+folded != all {
		t.Errorf("%v tables reported and %v folded; pg_stat_user_tables has %v", reported, folded, all)
	}
	toast := 0.0
	for _, v := range tables {
		toast += v[19] + v[20]
	}
	if toast == 0 {
		t.Fatal("the fixture read no TOAST blocks; the comparison would not cover them")
	}

	compare := func(kind string, view map[string][]float64, fams []string, labels func(name string) map[string]string, rest map[string]string) {
		t.Helper()
		restSum := make([]float64, len(fams))
		reported := 0
		for name, vals := range view {
			if _, ok := r.Value(fams[0], labels(name)); !ok {
				for j := range vals {
					restSum[j] += vals[j]
				}
				continue
			}
			reported++
			for j, fam := range fams {
				if got, _ := r.Value(fam, labels(name)); got != vals[j] {
					t.Errorf("%s %s: %s is %v, the view says %v", kind, name, fam, got, vals[j])
				}
			}
		}
		if reported == 0 || reported == len(view) {
			t.Fatalf("%d of %d %s reported; the test needs some on each side of the limit", reported, len(view), kind)
		}
		for j, fam := range fams {
			if got, _ := r.Value(fam, rest); got != restSum[j] {
				t.Errorf("%s not reported: %s is %v, the view's sum is %v", kind, fam, got, restSum[j])
			}
		}
	}
	compare("tables", tables, tableFams, func(name string) map[string]string {
		return rel("views", strings.TrimPrefix(name, "public."))
	}, map[string]string{"datname": "views", "schemaname": "", "relname": ""})
	compare("indexes", indexes, indexFams, func(name string) map[string]string {
		tb, ix, _ := strings.Cut(strings.TrimPrefix(name, "public."), ".")
		return idx("views", tb, ix)
	}, map[string]string{"datname": "views", "schemaname": "", "relname": "", "indexrelname": ""})
}

// readView reads rows of schema, name and n numbers, keyed "schema.name".
func readView(t *testing.T, conn *pgx.Conn, q string, n int) map[string][]float64 {
	t.Helper()
	rows, err := conn.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]float64{}
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		key := vals[0].(string) + "." + vals[1].(string)
		nums := make([]float64, n)
		for i := range nums {
			switch v := vals[2+i].(type) {
			case int64:
				nums[i] = float64(v)
			case nil:
			default:
				t.Fatalf("%s column %d: unexpected %T", key, i, v)
			}
		}
		out[key] = nums
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
