package e2e_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/exporter"
	"github.com/pghardening/pg_hardening_exporter/internal/target"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/promtest"
	"github.com/pghardening/pg_hardening_exporter/mixin"
)

var srv *pgtest.Server

func TestMain(m *testing.M) {
	os.Exit(pgtest.RunMain(m, pgtest.Options{}, &srv))
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

const db = "e2e"

// scenario is one real condition on the server and the alert it must raise.
type scenario struct {
	name   string
	alert  string
	labels map[string]string
	// cause creates the condition and returns what removes it.
	cause func(t *testing.T, ctx context.Context) (remove func())
	// resolves says whether the alert clears within the wait once the
	// condition is gone; alerts over counters windows (deadlocks over 10
	// minutes, rollbacks over 5) clear only when the window has passed.
	resolves bool
}

// TestAlertsFireAndResolve renders the pack with short for durations, runs
// every stack's Prometheus (Debian's 2.42 and the current 3.x) on it against
// the exporter scraping a real PostgreSQL, creates each scenario's condition
// and waits for its alert to fire through /api/v1/alerts on each, then
// removes the condition and waits for it to resolve.
func TestAlertsFireAndResolve(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	ctx := context.Background()
	if err := s.CreateDatabase(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := s.Exec(ctx, db, `CREATE TABLE locked (id int PRIMARY KEY, v int)`, `INSERT INTO locked VALUES (1, 0), (2, 0)`); err != nil {
		t.Fatal(err)
	}
	dsn, err := s.CreateMonitorRole(ctx, "e2e_monitor", "e2e-secret")
	if err != nil {
		t.Fatal(err)
	}

	rulesDir := t.TempDir()
	if err := testConfig().Write(rulesDir); err != nil {
		t.Fatal(err)
	}
	addr := startExporter(t, dsn)
	// Every stack's Prometheus scrapes the one exporter and evaluates the same
	// rules, so each condition is made once and every version must see it.
	proms := promtest.StartEach(t, promtest.Options{
		Targets:   map[string][]string{"postgres": {addr}},
		RuleFiles: []string{filepath.Join(rulesDir, "rules", "*.yml")},
	})
	for _, prom := range proms.Running() {
		if _, err := prom.WaitAlerts(ctx, 30*time.Second, func([]promtest.Alert) bool {
			res, err := prom.Query(ctx, `pg_up{job="postgres"}`)
			return err == nil && len(res) == 1 && res[0].Value == "1"
		}); err != nil {
			t.Fatalf("Prometheus %s did not scrape pg_up 1 from the exporter: %v", prom.Stack.PrometheusVersion(), err)
		}
	}
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			// Before its condition exists the alert is silent.
			for _, prom := range proms.Running() {
				alerts, err := prom.Alerts(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if f := promtest.Find(alerts, sc.alert, "", sc.labels); len(f) > 0 {
					t.Fatalf("Prometheus %s: %s is active before its condition exists: %v", prom.Stack.PrometheusVersion(), sc.alert, f)
				}
			}
			remove := sc.cause(t, ctx)
			proms.Run(t, func(t *testing.T, prom *promtest.Server) {
				alerts, err := prom.WaitAlerts(ctx, 45*time.Second, func(a []promtest.Alert) bool {
					return len(promtest.Find(a, sc.alert, "firing", sc.labels)) > 0
				})
				if err != nil {
					t.Fatalf("%s%v did not fire: %v; active alerts: %v", sc.alert, sc.labels, err, alerts)
				}
				a := promtest.Find(alerts, sc.alert, "firing", sc.labels)[0]
				if !strings.HasSuffix(a.Annotations["runbook_url"], "/"+sc.alert+".md") || a.Annotations["description"] == "" ||
					strings.Contains(a.Annotations["description"], "{{") {
					t.Errorf("%s fired with annotations %v", sc.alert, a.Annotations)
				}
			})
			remove()
			if !sc.resolves {
				return
			}
			for _, prom := range proms.Running() {
				alerts, err := prom.WaitAlerts(ctx, 45*time.Second, func(a []promtest.Alert) bool {
					return len(promtest.Find(a, sc.alert, "", sc.labels)) == 0
				})
				if err != nil {
					t.Errorf("Prometheus %s: %s%v did not resolve after the condition was removed: %v; active alerts: %v",
						prom.Stack.PrometheusVersion(), sc.alert, sc.labels, err, alerts)
				}
			}
		})
	}
}

// testConfig is the default pack with every for shortened so the test sees
// alerts within seconds, and the thresholds a short test can reach lowered.
func testConfig() *mixin.Config {
	c := mixin.Defaults()
	short := mixin.Duration(time.Second)
	for _, name := range mixin.AlertNames() {
		c.Alerts[name] = mixin.AlertConfig{For: &short}
	}
	one, tiny := mixin.Value(1), mixin.Value(0.01)
	c.Alerts["PostgresDeadlocksHigh"] = mixin.AlertConfig{For: &short, Warning: &one}
	c.Alerts["PostgresRollbackRatioHigh"] = mixin.AlertConfig{For: &short, Min: &tiny}
	idle := mixin.Value(2)
	c.Alerts["PostgresIdleInTransaction"] = mixin.AlertConfig{For: &short, Warning: &idle}
	c.SLO.PageFor, c.SLO.TicketFor = short, short
	return c
}

// scenarios are real conditions made on the server, each with the alert it
// must fire; those whose condition can be removed must resolve too.
func scenarios() []scenario {
	return []scenario{
		{name: "dead tuples", alert: "PostgresDeadTuplesHigh", labels: map[string]string{"datname": db, "relname": "churn"}, cause: causeDeadTuples, resolves: true},
		{name: "idle in transaction", alert: "PostgresIdleInTransaction", labels: map[string]string{"datname": db, "severity": "warning"}, cause: causeIdleInTransaction, resolves: true},
		{name: "blocked session", alert: "PostgresBlockingSessions", labels: map[string]string{"severity": "warning"}, cause: causeBlockedSession, resolves: true},
		{name: "rollbacks", alert: "PostgresRollbackRatioHigh", labels: map[string]string{"severity": "warning"}, cause: causeRollbacks},
		{name: "deadlock", alert: "PostgresDeadlocksHigh", labels: map[string]string{"datname": db, "severity": "warning"}, cause: causeDeadlock},
		{name: "server down", alert: "PostgresDown", labels: map[string]string{"severity": "critical"}, cause: causeDown, resolves: true},
	}
}

func connect(t *testing.T, ctx context.Context) *pgx.Conn {
	t.Helper()
	c, err := srv.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// causeDeadlock makes two transactions update the same two rows in opposite
// order; PostgreSQL detects the cycle after deadlock_timeout and rolls one
// back.
func causeDeadlock(t *testing.T, ctx context.Context) func() {
	a, b := connect(t, ctx), connect(t, ctx)
	defer a.Close(ctx)
	defer b.Close(ctx)
	ta, err := a.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := b.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, ctx, ta, `UPDATE locked SET v = v + 1 WHERE id = 1`)
	mustExec(t, ctx, tb, `UPDATE locked SET v = v + 1 WHERE id = 2`)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Add(2)
	go func() { defer wg.Done(); _, errs[0] = ta.Exec(ctx, `UPDATE locked SET v = v + 1 WHERE id = 2`) }()
	go func() { defer wg.Done(); _, errs[1] = tb.Exec(ctx, `UPDATE locked SET v = v + 1 WHERE id = 1`) }()
	wg.Wait()
	_ = ta.Rollback(ctx)
	_ = tb.Rollback(ctx)
	if !isDeadlock(errs[0]) && !isDeadlock(errs[1]) {
		t.Fatalf("no deadlock detected: %v, %v", errs[0], errs[1])
	}
	return func() {}
}

func isDeadlock(err error) bool { return err != nil && strings.Contains(err.Error(), "40P01") }

func mustExec(t *testing.T, ctx context.Context, tx pgx.Tx, sql string) {
	t.Helper()
	if _, err := tx.Exec(ctx, sql); err != nil {
		t.Fatal(err)
	}
}

// causeRollbacks rolls back many transactions at once, far more than the
// exporter's own sessions commit.
func causeRollbacks(t *testing.T, ctx context.Context) func() {
	c := connect(t, ctx)
	defer c.Close(ctx)
	for i := 0; i < 500; i++ {
		tx, err := c.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `SELECT 1`); err != nil {
			t.Fatal(err)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return func() {}
}

// causeDeadTuples updates every row of a 20 000-row table whose autovacuum is
// off; removing the condition vacuums it.
func causeDeadTuples(t *testing.T, ctx context.Context) func() {
	if err := srv.Exec(ctx, db, `DROP TABLE IF EXISTS churn`,
		`CREATE TABLE churn (id int PRIMARY KEY, v int) WITH (autovacuum_enabled = false)`,
		`INSERT INTO churn SELECT g, 0 FROM generate_series(1, 20000) g`,
		`UPDATE churn SET v = v + 1`); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := srv.Exec(ctx, db, `VACUUM churn`); err != nil {
			t.Fatal(err)
		}
	}
}

// causeIdleInTransaction leaves a session idle inside its transaction;
// removing the condition ends the transaction.
func causeIdleInTransaction(t *testing.T, ctx context.Context) func() {
	c := connect(t, ctx)
	if _, err := c.Exec(ctx, `BEGIN`); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, `SELECT 1`); err != nil {
		t.Fatal(err)
	}
	return func() {
		_, _ = c.Exec(ctx, `ROLLBACK`)
		c.Close(ctx)
	}
}

// causeBlockedSession has one session hold a row lock and another wait for
// it; removing the condition rolls the holder back, which frees the waiter.
func causeBlockedSession(t *testing.T, ctx context.Context) func() {
	holder, waiter := connect(t, ctx), connect(t, ctx)
	if _, err := holder.Exec(ctx, `BEGIN; UPDATE locked SET v = v + 1 WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = waiter.Exec(ctx, `UPDATE locked SET v = v + 1 WHERE id = 1`)
	}()
	return func() {
		_, _ = holder.Exec(ctx, `ROLLBACK`)
		<-done
		holder.Close(ctx)
		waiter.Close(ctx)
	}
}

// causeDown stops the server; removing the condition starts it again.
func causeDown(t *testing.T, _ context.Context) func() {
	if err := srv.StopServer(); err != nil {
		t.Fatal(err)
	}
	started := false
	t.Cleanup(func() {
		if !started {
			_ = srv.StartServer()
		}
	})
	return func() {
		if err := srv.StartServer(); err != nil {
			t.Fatal(err)
		}
		started = true
	}
}

// startExporter serves the exporter's routes in-process, as main does, with
// every default collector and a circuit breaker that reopens quickly.
func startExporter(t *testing.T, dsn string) string {
	t.Helper()
	return serveExporter(t, dsn, "").addr
}

// exporterProcess is an exporter served in-process: its address, its
// configuration file, and stop, which makes every scrape of it fail.
type exporterProcess struct {
	addr, configFile string
	stop             func()
}

// serveExporter serves the exporter's routes in-process, as main does, with
// every default collector, a circuit breaker that reopens quickly, and
// extra configuration file lines (backup sources, ...).
func serveExporter(t *testing.T, dsn, extra string) exporterProcess {
	t.Helper()
	path := filepath.Join(t.TempDir(), "exporter.yml")
	if err := os.WriteFile(path, []byte("connection:\n  retries: 0\n  breaker_failures: 2\n  breaker_open_for: 1s\n"+extra), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := target.ParseDSN("e2e", dsn, "")
	if err != nil {
		t.Fatal(err)
	}
	exp, err := exporter.NewFromConfig(exporter.Settings{ConfigFile: path, Collectors: exporter.DefaultCollectors(),
		Default: conn, Logger: quiet,
		Timeouts: exporter.Timeouts{Offset: 100 * time.Millisecond, Default: 5 * time.Second, Max: time.Minute}}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(exp.Close)
	hs := httptest.NewServer(exp.Server.Routes("/metrics", exp.Reloader, nil))
	t.Cleanup(hs.Close)
	return exporterProcess{addr: strings.TrimPrefix(hs.URL, "http://"), configFile: path, stop: hs.Close}
}
