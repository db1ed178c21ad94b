package collector_test

import (
	"context"
	"math"
	"sync"
	"testing"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/families"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/scrapetest"
)

func TestSchemaHealthFindsEachProblem(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	makeFixtureDB(t, s, "schemahealth",
		"CREATE TABLE parent (id int PRIMARY KEY)",
		"CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent (id))",
		"CREATE TABLE child_indexed (id int PRIMARY KEY, parent_id int REFERENCES parent (id))",
		"CREATE INDEX ON child_indexed (parent_id)",
		"CREATE TABLE nopk (x int)",
		"ALTER TABLE child ADD CONSTRAINT positive CHECK (id > 0) NOT VALID",
		"CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'",
		"CREATE TRIGGER audit BEFORE INSERT ON child FOR EACH ROW EXECUTE FUNCTION noop()",
		"ALTER TABLE child DISABLE TRIGGER audit",
		"CREATE SEQUENCE nearly_done MAXVALUE 100",
		"SELECT setval('nearly_done', 91)",
		"CREATE SEQUENCE fresh")
	r := scrapetest.New(t, s.SuperuserDSN("postgres"), nil, "schema").Scrape(t)
	r.RequireUp(t)
	issue := func(kind, table, object string) map[string]string {
		return map[string]string{"datname": "schemahealth", "issue": kind, "schemaname": "public", "relname": table, "object": object}
	}
	for _, want := range []map[string]string{
		issue("table_without_primary_key", "nopk", ""),
		issue("foreign_key_without_index", "child", "child_parent_id_fkey"),
		issue("constraint_not_validated", "child", "positive"),
		issue("trigger_disabled", "child", "audit"),
	} {
		if v, ok := r.Value("pg_schema_issue", want); !ok || v != 1 {
			t.Errorf("not reported: %v\n%s", want, r.String("pg_schema_issue"))
		}
	}
	if _, ok := r.Value("pg_schema_issue", issue("foreign_key_without_index", "child_indexed", "child_indexed_parent_id_fkey")); ok {
		t.Error("a foreign key with an index is reported")
	}
	for kind, want := range map[string]float64{"table_without_primary_key": 1, "foreign_key_without_index": 1, "constraint_not_validated": 1, "trigger_disabled": 1} {
		if v, _ := r.Value("pg_schema_issues", map[string]string{"datname": "schemahealth", "issue": kind}); v != want {
			t.Errorf("pg_schema_issues{issue=%s} = %v, want %v", kind, v, want)
		}
	}
	seq := map[string]string{"datname": "schemahealth", "schemaname": "public", "sequencename": "nearly_done"}
	if v, _ := r.Value("pg_sequence_used_ratio", seq); math.Abs(v-90.0/99) > 1e-9 {
		t.Errorf("nearly_done used ratio %v, want %v", v, 90.0/99)
	}
	if v, _ := r.Value("pg_sequences_max_used_ratio", map[string]string{"datname": "schemahealth"}); math.Abs(v-90.0/99) > 1e-9 {
		t.Errorf("max used ratio %v", v)
	}
	// pg_monitor sees the catalog problems, but not sequence values: they
	// are counted as unreadable rather than reported as unused.
	monDSN, err := s.CreateMonitorRole(context.Background(), "monitor_schema", "monpw")
	if err != nil {
		t.Fatal(err)
	}
	m := scrapetest.New(t, monDSN, nil, "schema").Scrape(t)
	m.RequireUp(t)
	if v, _ := m.Value("pg_schema_issue", issue("foreign_key_without_index", "child", "child_parent_id_fkey")); v != 1 {
		t.Error("the pg_monitor role does not see the foreign key without an index")
	}
	if v, _ := m.Value("pg_sequences_unreadable", map[string]string{"datname": "schemahealth"}); v != 2 {
		t.Errorf("pg_sequences_unreadable %v for pg_monitor, want 2", v)
	}
	if _, ok := m.Value("pg_sequence_used_ratio", seq); ok {
		t.Error("a sequence value reported to a role that may not read it")
	}
}

// The bloat estimate from planner statistics lands within 20 points of
// pgstattuple's exact figure for a table bloated on purpose, and the
// measured figure (pgstattuple_approx) is reported when asked for.
func TestBloatEstimateAgreesWithPgstattuple(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	makeFixtureDB(t, s, "bloatdb",
		"CREATE EXTENSION IF NOT EXISTS pgstattuple",
		"CREATE TABLE bloated (id int PRIMARY KEY, pad text) WITH (autovacuum_enabled = off)",
		"INSERT INTO bloated SELECT g, repeat('x', 100) FROM generate_series(1, 100000) g",
		"DELETE FROM bloated WHERE id % 3 <> 0",
		"ANALYZE bloated",
		"CREATE TABLE tidy (id int PRIMARY KEY, pad text)",
		"INSERT INTO tidy SELECT g, repeat('y', 60) FROM generate_series(1, 50000) g",
		"VACUUM ANALYZE tidy")
	cfg, err := config.Parse("test.yml", []byte("objects:\n  bloat:\n    pgstattuple: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := scrapetest.New(t, s.SuperuserDSN("postgres"), cfg, "bloat").Scrape(t)
	r.RequireUp(t)
	ctx := context.Background()
	conn, err := s.Connect(ctx, "bloatdb")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var exact float64
	if err := conn.QueryRow(ctx, "SELECT (dead_tuple_len + free_space)::float8 / table_len FROM pgstattuple('bloated')").Scan(&exact); err != nil {
		t.Fatal(err)
	}
	est, ok := r.Value("pg_table_bloat_ratio", rel("bloatdb", "bloated"))
	if !ok || math.Abs(est-exact) > 0.2 {
		t.Fatalf("estimated bloat ratio %v (present %v), pgstattuple says %v", est, ok, exact)
	}
	t.Logf("bloated: estimate %.3f, pgstattuple %.3f", est, exact)
	if m, ok := r.Value("pg_table_bloat_measured_ratio", rel("bloatdb", "bloated")); !ok || math.Abs(m-exact) > 0.1 {
		t.Fatalf("measured ratio %v (present %v), pgstattuple says %v", m, ok, exact)
	}
	if v, ok := r.Value("pg_table_bloat_ratio", rel("bloatdb", "tidy")); ok && v > 0.2 {
		t.Fatalf("a freshly loaded, vacuumed table estimated %v bloated", v)
	}
	if v, ok := r.Value("pg_index_bloat_ratio", idx("bloatdb", "bloated", "bloated_pkey")); !ok || v < 0.3 || v > 1 {
		t.Fatalf("index of a table with two thirds of its rows deleted: bloat ratio %v (present %v)", v, ok)
	}
}

// A CREATE INDEX CONCURRENTLY that waits for an open writer shows in progress.
func TestProgressShowsWaitingCreateIndex(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	makeFixtureDB(t, s, "progressdb", "DROP TABLE IF EXISTS p", "CREATE TABLE p (x int)")
	ctx := context.Background()
	writer, err := s.Connect(ctx, "progressdb")
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close(ctx)
	tx, err := writer.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO p VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var cicErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		cicErr = s.Exec(ctx, "progressdb", "CREATE INDEX CONCURRENTLY p_x ON p (x)")
	}()
	sc := scrapetest.New(t, s.SuperuserDSN("postgres"), nil, "progress")
	// The build starts in phase "initializing" and moves on to wait for the
	// open writer; scrape until it is there.
	running := func(r families.Result) bool {
		return r.Sum("pg_progress_operations", map[string]string{"command": "create_index", "datname": "progressdb",
			"phase": "waiting for writers before build"}) == 1
	}
	r := scrapeFor(t, sc, running)
	_ = tx.Commit(ctx)
	wg.Wait()
	if cicErr != nil {
		t.Fatal(cicErr)
	}
	if !running(r) {
		t.Fatalf("no create_index operation while CREATE INDEX CONCURRENTLY waits:\n%s", r.String("pg_progress_operations"))
	}
	phase := ""
	for _, m := range r["pg_progress_operations"].GetMetric() {
		if labelValue(m, "datname") == "progressdb" {
			phase = labelValue(m, "phase")
		}
	}
	if phase != "waiting for writers before build" {
		t.Fatalf("phase %q", phase)
	}
	after := sc.Scrape(t)
	if after.Sum("pg_progress_operations", map[string]string{"datname": "progressdb"}) != 0 {
		t.Fatal("the finished CREATE INDEX is still reported")
	}
}
