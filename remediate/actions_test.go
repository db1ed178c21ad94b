package remediate

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const vacuumRule = `
  - alertname: PostgresDeadTuplesHigh
    action: vacuum
    params: {min_dead_tuples: 10000}
    cooldown: 1h
`

func deadTuplesAlert(db, table string) Alert {
	return firing("alertname", "PostgresDeadTuplesHigh", "datname", db, "schemaname", "public", "relname", table)
}

func TestVacuumRunsAndIsAudited(t *testing.T) {
	db := newDatabase(t)
	deadTable(t, db, "orders", 20000)
	h := startReceiver(t, receiverConfig("enforce", db, vacuumRule))
	a := deadTuplesAlert(db, "orders")
	h.send(t, a)
	rec := h.waitRecords(t, 1, forAlert(a))[0]
	if rec.Result != ResultRan || rec.Statement != `VACUUM (ANALYZE, SKIP_LOCKED) "public"."orders"` || rec.Target != "db1" || rec.Database != db {
		t.Fatalf("audit record %+v", rec)
	}
	if lastVacuum(t, db, "orders") == nil {
		t.Error("last_vacuum did not move")
	}
	if v := waitStat(t, db, "orders", "n_dead_tup", func(v int64) bool { return v < 100 }); v >= 100 {
		t.Errorf("n_dead_tup %d after VACUUM", v)
	}
	if got := h.counter(t, "vacuum", "PostgresDeadTuplesHigh", ResultRan); got != 1 {
		t.Errorf("pg_remediation_actions_total{result=ran} = %v", got)
	}
	if got := plainGauge(t, h, "pg_remediation_cooldowns"); got != 1 {
		t.Errorf("pg_remediation_cooldowns = %v after one run under a cooldown, want 1", got)
	}
	// A second firing inside the cooldown: skipped, measured from last_vacuum.
	deadTable(t, db, "orders2", 20000)
	b := deadTuplesAlert(db, "orders")
	h.send(t, b)
	rec = h.waitRecords(t, 1, forAlert(b))[0]
	if rec.Result != ResultSkipped || !strings.Contains(rec.Reason, "cooldown") {
		t.Errorf("second firing inside the cooldown: %+v", rec)
	}
}

func TestVacuumSkipsWhileTheHorizonIsHeld(t *testing.T) {
	db := newDatabase(t)
	deadTable(t, db, "held", 20000)
	ctx := ctxT(t)
	holder, err := srv.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(context.Background())
	if _, err := holder.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ"); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(ctx, "SELECT count(*) FROM pg_class"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	h := startReceiver(t, receiverConfig("enforce", db, `
  - alertname: PostgresDeadTuplesHigh
    action: vacuum
    params: {xmin_holder_age: 1s}
`))
	a := deadTuplesAlert(db, "held")
	h.send(t, a)
	rec := h.waitRecords(t, 1, forAlert(a))[0]
	if rec.Result != ResultSkipped || !strings.Contains(rec.Reason, "xmin horizon is held back by session pid") {
		t.Fatalf("%+v", rec)
	}
	if lastVacuum(t, db, "held") != nil {
		t.Error("VACUUM ran although the horizon was held")
	}
}

// appRole creates a login role that the receiver may act on (allow.roles: app_.*).
func appRole(t *testing.T, name string) string {
	t.Helper()
	if err := srv.Exec(ctxT(t), "postgres", fmt.Sprintf(
		"DO $$BEGIN CREATE ROLE %s LOGIN PASSWORD 'pw'; EXCEPTION WHEN duplicate_object THEN NULL; END$$", name)); err != nil {
		t.Fatal(err)
	}
	return name
}

// idleInTransaction opens a session as role that sits idle inside a transaction.
func idleInTransaction(t *testing.T, db, role, app string) *pgx.Conn {
	t.Helper()
	ctx := ctxT(t)
	conn, err := pgx.Connect(ctx, srv.DSN(role, "pw", db)+"&application_name="+app)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	return conn
}

func alive(t *testing.T, c *pgx.Conn) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.Exec(ctx, "SELECT 1")
	return err == nil
}

const idleRule = `
  - alertname: PostgresIdleInTransaction
    action: terminate_backend
    params: {sessions: idle_in_transaction, min_age: 2s, max_sessions: 5}
`

func TestTerminateIdleInTransactionOnlyPastTheThreshold(t *testing.T) {
	db := newDatabase(t)
	role := appRole(t, "app_user")
	old := idleInTransaction(t, db, role, "leaky")
	time.Sleep(2500 * time.Millisecond)
	young := idleInTransaction(t, db, role, "leaky")
	h := startReceiver(t, receiverConfig("enforce", db, idleRule))
	a := firing("alertname", "PostgresIdleInTransaction", "datname", db)
	h.send(t, a)
	rec := h.waitRecords(t, 1, forAlert(a))[0]
	if rec.Result != ResultRan || !strings.Contains(rec.Reason, "terminated 1 session") {
		t.Fatalf("%+v", rec)
	}
	if alive(t, old) {
		t.Error("the session idle in transaction past the threshold is still alive")
	}
	if !alive(t, young) {
		t.Error("the younger session was terminated")
	}
}

func TestSessionsNeverTouched(t *testing.T) {
	db := newDatabase(t)
	ctx := ctxT(t)
	// A superuser idle in a transaction, and a role outside allow.roles.
	su, err := srv.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer su.Close(context.Background())
	if _, err := su.Exec(ctx, "BEGIN; SELECT 1"); err != nil {
		t.Fatal(err)
	}
	other := idleInTransaction(t, db, appRole(t, "reporting"), "bi")
	time.Sleep(2500 * time.Millisecond)
	h := startReceiver(t, receiverConfig("enforce", db, idleRule))
	a := firing("alertname", "PostgresIdleInTransaction", "datname", db)
	h.send(t, a)
	rec := h.waitRecords(t, 1, forAlert(a))[0]
	if rec.Result != ResultRefused || !strings.Contains(rec.Reason, "not in allow.roles") {
		t.Fatalf("%+v", rec)
	}
	if !alive(t, su) || !alive(t, other) {
		t.Error("a superuser session or a session of a role outside allow.roles was terminated")
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	db := newDatabase(t)
	deadTable(t, db, "orders", 20000)
	sess := idleInTransaction(t, db, appRole(t, "app_user"), "leaky")
	time.Sleep(2500 * time.Millisecond)
	h := startReceiver(t, receiverConfig("dry-run", db, vacuumRule+idleRule))
	v, i := deadTuplesAlert(db, "orders"), firing("alertname", "PostgresIdleInTransaction", "datname", db)
	h.send(t, v, i)
	rv := h.waitRecords(t, 1, forAlert(v))[0]
	ri := h.waitRecords(t, 1, forAlert(i))[0]
	for _, r := range []Record{rv, ri} {
		if r.Result != ResultDryRun || r.Mode != ModeDryRun || r.Statement == "" {
			t.Errorf("dry-run record %+v", r)
		}
	}
	if !strings.Contains(ri.Detail, "leaky") {
		t.Errorf("the dry-run record does not say which session it would end: %+v", ri)
	}
	if h.counter(t, "vacuum", "PostgresDeadTuplesHigh", ResultDryRun) != 1 || h.counter(t, "terminate_backend", "PostgresIdleInTransaction", ResultDryRun) != 1 {
		t.Error("pg_remediation_actions_total{result=dry_run} not counted")
	}
	if lastVacuum(t, db, "orders") != nil || stat(t, db, "orders", "n_dead_tup") < 20000 {
		t.Error("dry-run vacuumed the table")
	}
	if !alive(t, sess) {
		t.Error("dry-run terminated a session")
	}
}

func TestDuplicateNotificationsRunOnce(t *testing.T) {
	db := newDatabase(t)
	deadTable(t, db, "orders", 20000)
	cfg := receiverConfig("enforce", db, vacuumRule)
	h := startReceiver(t, cfg)
	a := deadTuplesAlert(db, "orders")
	h.send(t, a)
	h.send(t, a)
	h.waitRecords(t, 1, forAlert(a))
	dups := h.waitRecords(t, 1, func(r Record) bool { return r.Result == ResultDuplicate })
	if len(dups) != 1 || stat(t, db, "orders", "vacuum_count") != 1 {
		t.Fatalf("duplicates %d, vacuum_count %d; want 1 and 1", len(dups), stat(t, db, "orders", "vacuum_count"))
	}

	// Two replicas receive the same notification at once.
	deadTable(t, db, "lines", 20000)
	r1, r2 := startReceiver(t, cfg), startReceiver(t, cfg)
	b := deadTuplesAlert(db, "lines")
	var wg sync.WaitGroup
	for _, r := range []*harness{r1, r2} {
		wg.Add(1)
		go func() { defer wg.Done(); r.send(t, b) }()
	}
	wg.Wait()
	recs := append(r1.waitRecords(t, 1, forAlert(b)), r2.waitRecords(t, 1, forAlert(b))...)
	ran := 0
	for _, r := range recs {
		if r.Result == ResultRan {
			ran++
		} else if r.Result != ResultSkipped {
			t.Errorf("the second replica's decision: %+v", r)
		}
	}
	if ran != 1 || stat(t, db, "lines", "vacuum_count") != 1 {
		t.Fatalf("ran %d times, vacuum_count %d; want exactly one execution: %+v", ran, stat(t, db, "lines", "vacuum_count"), recs)
	}
}

func TestHostileLabelsAreRefused(t *testing.T) {
	db := newDatabase(t)
	deadTable(t, db, "y", 20000)
	deadTable(t, db, "secret", 20000)
	cfg := strings.Replace(receiverConfig("enforce", db, vacuumRule+`
  - alertname: PostgresIndexBloatHigh
    action: reindex
`), `tables: ['public\..*']`, `tables: ['public\.y', 'public\.x.*', 'public\."Y"', 'public\.\.\./', 'public\.a+']`, 1)
	h := startReceiver(t, cfg)
	cases := []struct {
		labels []string
		reason string
	}{
		{[]string{"relname", "x; DROP TABLE y"}, "no relation public.x; DROP TABLE y"},
		{[]string{"relname", `"Y"`}, "no relation"},
		{[]string{"relname", "../"}, "no relation public.../"},
		{[]string{"relname", "../../etc/passwd"}, "not in allow.tables"},
		{[]string{"relname", strings.Repeat("a", 10000)}, "longer than 63 bytes"},
		{[]string{"relname", "secret"}, `table "public.secret" is not in allow.tables`},
		{[]string{"schemaname", "pg_catalog", "relname", "pg_class"}, "system schema"},
		{[]string{"schemaname", "information_schema", "relname", "tables"}, "system schema"},
		{[]string{"datname", "postgres' OR 1=1 --", "relname", "y"}, "not in allow.databases"},
		{[]string{"relname", "y\x01"}, "control characters"},
	}
	var alerts []Alert
	for _, c := range cases {
		labels := append([]string{"alertname", "PostgresDeadTuplesHigh", "datname", db, "schemaname", "public"}, c.labels...)
		alerts = append(alerts, firing(labels...))
	}
	// An index alert naming a table, and one naming a catalog index.
	alerts = append(alerts,
		firing("alertname", "PostgresIndexBloatHigh", "datname", db, "schemaname", "public", "indexrelname", "y"),
		firing("alertname", "PostgresIndexBloatHigh", "datname", db, "schemaname", "pg_catalog", "indexrelname", "pg_class_oid_index"))
	cases = append(cases, struct {
		labels []string
		reason string
	}{nil, `relation of kind "r"`}, struct {
		labels []string
		reason string
	}{nil, "system schema"})
	h.send(t, alerts...)
	for i, a := range alerts {
		rec := h.waitRecords(t, 1, forAlert(a))[0]
		if rec.Result != ResultRefused || !strings.Contains(rec.Reason, cases[i].reason) {
			t.Errorf("case %d (%q): %s: %s; want refused with %q", i, truncate(fmt.Sprint(cases[i].labels), 60), rec.Result, rec.Reason, cases[i].reason)
		}
	}
	for _, table := range []string{"y", "secret"} {
		if stat(t, db, table, "vacuum_count") != 0 || stat(t, db, table, "n_dead_tup") < 20000 {
			t.Errorf("table %s was touched", table)
		}
	}
	if h.counter(t, "vacuum", "PostgresDeadTuplesHigh", ResultRefused) != float64(len(cases)-2) {
		t.Errorf("refusals counted: %v", h.counter(t, "vacuum", "PostgresDeadTuplesHigh", ResultRefused))
	}
}

func TestReindexBloatedIndex(t *testing.T) {
	db := newDatabase(t)
	ctx := ctxT(t)
	if err := srv.Exec(ctx, db,
		"CREATE TABLE items (id int, note text)",
		"INSERT INTO items SELECT g, 'n' FROM generate_series(1, 200000) g",
		"CREATE INDEX items_id ON items (id)",
		"DELETE FROM items WHERE id % 20 <> 0",
		"VACUUM ANALYZE items",
	); err != nil {
		t.Fatal(err)
	}
	relfilenode := func() (n uint32) {
		conn, _ := srv.Connect(ctx, db)
		defer conn.Close(context.Background())
		if err := conn.QueryRow(ctx, "SELECT relfilenode FROM pg_class WHERE relname = 'items_id'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := relfilenode()
	h := startReceiver(t, receiverConfig("enforce", db, `
  - alertname: PostgresIndexBloatHigh
    action: reindex
    params: {min_bloat_ratio: 0.5, min_index_bytes: 8192}
`))
	a := firing("alertname", "PostgresIndexBloatHigh", "datname", db, "schemaname", "public", "indexrelname", "items_id")
	h.send(t, a)
	rec := h.waitRecords(t, 1, forAlert(a))[0]
	if rec.Result != ResultRan || rec.Statement != `REINDEX INDEX CONCURRENTLY "public"."items_id"` {
		t.Fatalf("%+v", rec)
	}
	if relfilenode() == before {
		t.Error("the index was not rebuilt")
	}
	// Rebuilt, it is no longer bloated: a new firing is skipped by the re-check.
	b := firing("alertname", "PostgresIndexBloatHigh", "datname", db, "schemaname", "public", "indexrelname", "items_id")
	h.send(t, b)
	rec = h.waitRecords(t, 1, forAlert(b))[0]
	if rec.Result != ResultSkipped || !strings.Contains(rec.Reason, "estimated bloat") {
		t.Errorf("%+v", rec)
	}
}

func TestAnalyzeCooldownFromStatistics(t *testing.T) {
	db := newDatabase(t)
	ctx := ctxT(t)
	if err := srv.Exec(ctx, db, "CREATE TABLE ev (id int) WITH (autovacuum_enabled = false)",
		"INSERT INTO ev SELECT generate_series(1, 6000)"); err != nil {
		t.Fatal(err)
	}
	waitStat(t, db, "ev", "n_mod_since_analyze", func(v int64) bool { return v >= 6000 })
	rules := `
  - alertname: PostgresAnalyzeOverdue
    action: analyze
    cooldown: 1h
`
	h := startReceiver(t, receiverConfig("enforce", db, rules))
	a := firing("alertname", "PostgresAnalyzeOverdue", "datname", db, "schemaname", "public", "relname", "ev")
	h.send(t, a)
	if rec := h.waitRecords(t, 1, forAlert(a))[0]; rec.Result != ResultRan {
		t.Fatalf("%+v", rec)
	}
	// A second receiver (no memory of the first run) still honours the
	// cooldown: it reads last_analyze.
	if err := srv.Exec(ctx, db, "INSERT INTO ev SELECT generate_series(1, 6000)"); err != nil {
		t.Fatal(err)
	}
	h2 := startReceiver(t, receiverConfig("enforce", db, rules))
	b := firing("alertname", "PostgresAnalyzeOverdue", "datname", db, "schemaname", "public", "relname", "ev")
	h2.send(t, b)
	rec := h2.waitRecords(t, 1, forAlert(b))[0]
	if rec.Result != ResultSkipped || !strings.Contains(rec.Reason, "database's statistics") {
		t.Errorf("%+v", rec)
	}
}

func TestMaintenanceWindowAndResolution(t *testing.T) {
	db := newDatabase(t)
	deadTable(t, db, "orders", 20000)
	h := startReceiver(t, laterWindow()+receiverConfig("enforce", db, `
  - alertname: PostgresDeadTuplesHigh
    action: vacuum
    window: later
    outside_window: defer
  - alertname: PostgresAnalyzeOverdue
    action: analyze
    window: later
    outside_window: skip
`))
	d := deadTuplesAlert(db, "orders")
	s := firing("alertname", "PostgresAnalyzeOverdue", "datname", db, "schemaname", "public", "relname", "orders")
	h.send(t, d, s)
	if rec := h.waitRecords(t, 1, forAlert(d))[0]; rec.Result != ResultDeferred || !strings.Contains(rec.Reason, `window "later"`) {
		t.Errorf("%+v", rec)
	}
	if rec := h.waitRecords(t, 1, forAlert(s))[0]; rec.Result != ResultSkipped || !strings.Contains(rec.Reason, "outside maintenance window") {
		t.Errorf("%+v", rec)
	}
	// The deferred action is cancelled when its alert resolves.
	h.send(t, resolved(d))
	recs := h.waitRecords(t, 2, forAlert(d))
	if recs[1].Result != ResultCancelled {
		t.Errorf("after the resolution: %+v", recs[1])
	}
	if lastVacuum(t, db, "orders") != nil {
		t.Error("the deferred VACUUM ran")
	}
}

func TestResolvedCancelsQueuedAction(t *testing.T) {
	db := newDatabase(t)
	deadTable(t, db, "orders", 20000)
	// One worker, busy with a slow command, so the vacuum waits in the queue.
	cfg := "queue: {size: 10, workers: 1}\n" + receiverConfig("enforce", db, vacuumRule+`
  - alertname: Slow
    action: command
    params: {command: [sleep, "1"]}
`)
	h := startReceiver(t, cfg)
	slow := firing("alertname", "Slow")
	v := deadTuplesAlert(db, "orders")
	h.send(t, slow)
	h.send(t, v)
	h.send(t, resolved(v))
	h.waitRecords(t, 1, forAlert(slow))
	rec := h.waitRecords(t, 1, forAlert(v))[0]
	if rec.Result != ResultCancelled {
		t.Fatalf("%+v", rec)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(h.waitRecords(t, 1, forAlert(v))); n != 1 || lastVacuum(t, db, "orders") != nil {
		t.Errorf("the cancelled vacuum ran (%d records)", n)
	}
	// A firing copy arriving after the resolution starts nothing either.
	h.send(t, v)
	if d := h.waitRecords(t, 1, func(r Record) bool { return r.Result == ResultDuplicate }); len(d) != 1 {
		t.Errorf("late firing copy: %+v", d)
	}
}

func TestCircuitBreakerOpensAndHalfOpens(t *testing.T) {
	db := newDatabase(t)
	cfg := strings.Replace(receiverConfig("enforce", db, vacuumRule), srv.SuperuserDSN("postgres"),
		"postgres://nobody@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=1", 1)
	cfg = "breaker: {failures: 5, open_for: 1s}\nqueue: {size: 10, workers: 1}\n" + cfg
	h := startReceiver(t, cfg)
	state := func() float64 { return gaugeValue(t, h, "pg_remediation_circuit_state", "db1") }
	for i := 0; i < 5; i++ {
		a := deadTuplesAlert(db, fmt.Sprintf("t%d", i))
		h.send(t, a)
		if rec := h.waitRecords(t, 1, forAlert(a))[0]; rec.Result != ResultFailed {
			t.Fatalf("attempt %d: %+v", i, rec)
		}
	}
	if state() != 1 {
		t.Fatalf("circuit state %v after five failures, want 1 (open)", state())
	}
	a := deadTuplesAlert(db, "t5")
	h.send(t, a)
	if rec := h.waitRecords(t, 1, forAlert(a))[0]; rec.Result != ResultSkipped || !strings.Contains(rec.Reason, "circuit breaker open") {
		t.Fatalf("%+v", rec)
	}
	time.Sleep(1100 * time.Millisecond)
	if state() != 2 {
		t.Fatalf("circuit state %v after open_for, want 2 (half-open)", state())
	}
	b := deadTuplesAlert(db, "t6")
	h.send(t, b)
	if rec := h.waitRecords(t, 1, forAlert(b))[0]; rec.Result != ResultFailed {
		t.Fatalf("the half-open trial: %+v", rec)
	}
	if state() != 1 {
		t.Errorf("circuit state %v after a failed trial, want 1", state())
	}
}

func gaugeValue(t *testing.T, h *harness, name, target string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "target" && l.GetValue() == target {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{target=%q}", name, target)
	return 0
}

func TestQueueFullAnswers503(t *testing.T) {
	db := newDatabase(t)
	h := startReceiver(t, "queue: {size: 1, workers: 1}\n"+receiverConfig("enforce", db, `
  - alertname: Slow
    action: command
    params: {command: [sleep, "2"]}
`))
	h.send(t, firing("alertname", "Slow", "n", "1"))
	time.Sleep(300 * time.Millisecond) // the worker takes it
	h.send(t, firing("alertname", "Slow", "n", "2"))
	if code := h.post(t, payloadOf(firing("alertname", "Slow", "n", "3"))); code != http.StatusServiceUnavailable {
		t.Fatalf("queue full: %d, want 503", code)
	}
}
