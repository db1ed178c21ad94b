package dashboards

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/exporter"
	"github.com/pghardening/pg_hardening_exporter/internal/target"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/namestest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/promtest"
	"github.com/pghardening/pg_hardening_exporter/mixin/names"
)

// needsCondition lists the queries that legitimately return nothing against
// one primary with the workload below, keyed "uid/title" (every query of the
// panel) or "uid/title/refId". Queries that read a family the exporter does
// not declare yet (the catalogue's test lists each with its source) are
// excused instead, and come back into the check by themselves once it is
// declared.
var needsCondition = map[string]string{
	"pg-replication-backups/WAL receiver streaming":                     "a standby",
	"pg-database-detail/Sequences used (top 10)":                        "a sequence in a watched database",
	"pg-fleet-overview/Replication lag":                                 "a standby (replay lag is measured on the standby)",
	"pg-replication-backups/Standby's own replay lag":                   "a standby",
	"pg-replication-backups/Replay lag per standby":                     "a standby connected to the primary",
	"pg-replication-backups/Replay lag per standby in bytes":            "a standby connected to the primary",
	"pg-tables-maintenance/Running operations":                          "a VACUUM, ANALYZE, CREATE INDEX or base backup running at query time",
	"pg-tables-maintenance/Progress of running operations":              "a VACUUM, ANALYZE, CREATE INDEX or base backup running at query time",
	"pg-sessions-locks-pools/Pool utilization per service":              "service pools in the exporter's configuration",
	"pg-sessions-locks-pools/Pool connections by state":                 "service pools in the exporter's configuration",
	"pg-database-detail/Recovery conflicts by reason":                   "a standby",
	"pg-replication-backups/Subscription apply workers":                 "a logical replication subscription",
	"pg-replication-backups/Subscription errors in the last 10 minutes": "a logical replication subscription on 15 or later",
	"pg-replication-backups/Time since the publisher was last heard":    "a logical replication subscription",
	"pg-replication-backups/Subscription tables by state":               "a logical replication subscription",
	"pg-replication-backups/WAL retained by unused logical slots":       "an inactive logical replication slot (wal_level logical)",
	"pg-replication-backups/Logical decoding spilled and sent":          "a logical replication slot (wal_level logical) on 14 or later",
}

// needsMajor lists the panels whose series older servers do not have, with
// the first major that has them.
var needsMajor = map[string]int{
	"pg-queries/pg_stat_statements evictions": 14, // pg_stat_statements_info
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// startExporter serves the exporter's /metrics in-process, with every
// registered collector, for dsn, and the side sources (a PgBouncer, backup
// sources) in its configuration, the way one exporter per server is scraped
// directly.
func startExporter(t *testing.T, dsn string, ss sideSources) string {
	t.Helper()
	cfg := config.Defaults()
	cfg.PgBouncers, cfg.BackupSources = ss.pgbouncers, ss.backups
	def, err := target.ParseDSN("e2e", dsn, "")
	if err != nil {
		t.Fatal(err)
	}
	exp, err := exporter.NewFromConfig(exporter.Settings{Collectors: exporter.AllCollectors(), Default: def,
		Logger: quiet, Timeouts: exporter.Timeouts{Offset: 100 * time.Millisecond, Default: 5 * time.Second, Max: time.Minute}}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(exp.Close)
	hs := httptest.NewServer(exp.Server.Routes("/metrics", http.NotFoundHandler(), nil))
	t.Cleanup(hs.Close)
	return strings.TrimPrefix(hs.URL, "http://")
}

// workload gives the panels something to show: two databases, a large table
// with dead rows, a bloated table, an unused index, sequential scans, rollbacks, temporary
// files, a slow statement, archived WAL, a replication slot and a session
// idle in a transaction. It runs until ctx ends.
func workload(ctx context.Context, t *testing.T, s *pgtest.Server, ready chan<- struct{}) {
	setup := []string{
		"CREATE EXTENSION IF NOT EXISTS pg_stat_statements",
		"CREATE TABLE big AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 150000) g",
		"CREATE INDEX big_v ON big (v)",
		"VACUUM ANALYZE big",
		"UPDATE big SET v = v WHERE id <= 20000",
		// Three quarters of this table's rows deleted and then analyzed:
		// the planner-statistics estimate shows the space as bloat.
		"CREATE TABLE bloated AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 40000) g",
		"DELETE FROM bloated WHERE id % 4 <> 0",
		"ANALYZE bloated",
		"SELECT pg_create_physical_replication_slot('dashboards_e2e', true)",
	}
	if err := s.Exec(ctx, "", setup...); err != nil {
		t.Errorf("workload setup: %v", err)
		close(ready)
		return
	}
	if err := s.CreateDatabase(ctx, "app"); err != nil {
		t.Errorf("workload setup: %v", err)
	}
	if err := s.Exec(ctx, "app", "CREATE TABLE orders AS SELECT g AS id FROM generate_series(1, 1000) g", "ANALYZE orders"); err != nil {
		t.Errorf("workload setup: %v", err)
	}
	idle, err := s.Connect(ctx, "")
	if err != nil {
		t.Errorf("workload: %v", err)
		close(ready)
		return
	}
	defer idle.Close(context.Background())
	if _, err := idle.Exec(ctx, "BEGIN; SELECT txid_current()"); err != nil {
		t.Errorf("workload: %v", err)
	}
	conn, err := s.Connect(ctx, "")
	if err != nil {
		t.Errorf("workload: %v", err)
		close(ready)
		return
	}
	defer conn.Close(context.Background())
	close(ready)
	for i := 0; ctx.Err() == nil; i++ {
		stmts := []string{
			"SELECT count(*) FROM big",
			"BEGIN; INSERT INTO big VALUES (0, 'x'); ROLLBACK",
			"SET work_mem = '64kB'; SELECT md5(v) FROM big ORDER BY 1 LIMIT 1",
		}
		if i%10 == 0 {
			stmts = append(stmts, "SELECT pg_sleep(0.6)", "CHECKPOINT", "SELECT pg_switch_wal()")
		}
		for _, q := range stmts {
			if _, err := conn.Exec(ctx, q); err != nil && ctx.Err() == nil {
				t.Errorf("workload %q: %v", q, err)
				return
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// TestPanelsReturnData runs every stack's Prometheus (Debian's 2.42 and the
// current 3.x) against the exporter on a real PostgreSQL with a short
// workload, and asks each for every query of every panel, variables
// substituted, expecting at least one series.
func TestPanelsReturnData(t *testing.T) {
	pgtest.Integration(t)
	archive, err := os.MkdirTemp("", "pgarchive")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(archive) })
	if err := os.Chmod(archive, 0o777); err != nil { // the server runs as an unprivileged user
		t.Fatal(err)
	}
	s := pgtest.StartT(t, pgtest.Options{Conf: []string{
		"shared_preload_libraries = 'pg_stat_statements'",
		"track_io_timing = on",
		"archive_mode = on",
		fmt.Sprintf("archive_command = 'cp %%p %s/%%f'", archive),
	}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); workload(ctx, t, s, ready) }()
	defer func() { cancel(); wg.Wait() }()
	<-ready

	// Both setups of docs/operations.md: this exporter scraped directly as
	// job postgres, and a central one whose own /metrics (job
	// pg_hardening_exporter) carries its pools, PgBouncer and backup source.
	side := startSideSources(ctx, t, s)
	addr := startExporter(t, s.SuperuserDSN(""), side)
	central := startCentralExporter(ctx, t, s.SuperuserDSN(""), side)
	receiverAddr, notify := startReceiver(t, s.SuperuserDSN(""))
	rules, _ := filepath.Glob(filepath.Join(rulesDir, "*.yml"))
	for i, r := range rules {
		if rules[i], err = filepath.Abs(r); err != nil {
			t.Fatal(err)
		}
	}
	watchdog := filepath.Join(t.TempDir(), "watchdog.yml")
	// An alert that always fires, so the ALERTS panel has a series even when
	// the rule pack (rules/) is not on this branch.
	if err := os.WriteFile(watchdog, []byte("groups:\n- name: dashboards-e2e\n  rules:\n  - alert: DashboardsE2EWatchdog\n    expr: pg_up == 1\n    labels:\n      severity: info\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Every stack's Prometheus scrapes the same targets, so each version
	// answers the panels' queries over the same workload.
	proms := promtest.StartEach(t, promtest.Options{Targets: map[string][]string{"postgres": {addr}, exporterJob: {central}, receiverJob: {receiverAddr}},
		TargetLabels: map[string]string{"cluster": "e2e"}, RuleFiles: append(rules, watchdog)})
	waitCtx, waitCancel := context.WithTimeout(ctx, 30*time.Second)
	defer waitCancel()
	for _, prom := range proms.Running() {
		if err := prom.WaitFor(waitCtx, `pg_up == 1`); err != nil {
			t.Fatal(err)
		}
		// The receiver decides once, after it is scraped: its counters exist
		// at 0 from the start, so increase() over the range sees the first
		// decisions.
		if err := prom.WaitFor(waitCtx, names.RemQueueCapacity); err != nil {
			t.Fatal(err)
		}
	}
	notify()
	begin := time.Now()
	// Enough scrapes for rates over the rate interval and the histogram's
	// deltas between scrapes.
	time.Sleep(15 * time.Second)
	for _, prom := range proms.Running() {
		if err := prom.WaitFor(waitCtx, `ALERTS{alertstate="firing"}`); err != nil {
			t.Fatal(err)
		}
	}
	end := time.Now()
	proms.Run(t, func(t *testing.T, prom *promtest.Server) {
		checkPanels(ctx, t, prom, s, addr, central, receiverAddr, begin, end, rules)
	})
}

// checkPanels asks one Prometheus every query of every panel over the
// workload from begin to end.
func checkPanels(ctx context.Context, t *testing.T, prom *promtest.Server, s *pgtest.Server, addr, central, receiverAddr string, begin, end time.Time, rules []string) {

	families := namestest.Declared()
	recorded := map[string]bool{}
	if len(rules) > 0 {
		recorded, _, _ = rulePack(t)
	}
	vars := map[string]string{"__rate_interval": "10s", "__range": "1m", "job": "postgres",
		"instance": addr, "database": ".*"}
	receiverVars := map[string]string{"__rate_interval": "10s", "__range": "1m", "job": receiverJob, "instance": receiverAddr}
	excused := map[string]int{}
	checked, passed := 0, 0
	for _, b := range boards(Defaults()) {
		for _, p := range b.panels() {
			for i, q := range p.Queries {
				ref := string(rune('A' + i))
				key := b.UID + "/" + p.Title
				if name := undeclared(q.Expr, families, recorded); name != "" {
					excused["not declared by the exporter yet: "+name]++
					continue
				}
				reason, ok := needsCondition[key+"/"+ref]
				if !ok {
					reason, ok = needsCondition[key]
				}
				if v := needsMajor[key]; s.Major < v {
					reason, ok = fmt.Sprintf("PostgreSQL %d or later", v), true
				}
				expr := substitute(q.Expr, vars)
				if b.Receiver {
					expr = substitute(q.Expr, receiverVars)
				}
				var res []promtest.Sample
				var err error
				if q.Instant {
					res, err = prom.QueryAt(ctx, expr, end)
				} else {
					res, err = prom.QueryRange(ctx, expr, begin, end, time.Second)
				}
				checked++
				switch {
				case err != nil:
					t.Errorf("%s/%s: %v\n%s", key, ref, err, expr)
				case len(res) > 0:
					passed++
					if ok {
						t.Logf("%s/%s returns data although listed as needing %s", key, ref, reason)
					}
				case ok:
					excused["needs "+reason]++
				default:
					t.Errorf("%s/%s returned no series\n%s", key, ref, expr)
				}
			}
		}
	}
	if res, err := prom.QueryAt(ctx, substitute(m(names.NumBackends), vars), end); err != nil || len(res) == 0 {
		t.Errorf("variable query on %s returns nothing (%v)", names.NumBackends, err)
	}
	checkVariables(ctx, t, prom, begin, end, map[string]string{"postgres": addr, exporterJob: central})
	checkExporterJob(ctx, t, prom, begin, end, map[string]string{"__rate_interval": "10s", "__range": "1m",
		"job": exporterJob, "instance": central, "database": ".*"})
	if res, err := prom.QueryAt(ctx, substitute(m(names.RemQueueCapacity), receiverVars), end); err != nil || len(res) == 0 {
		t.Errorf("variable query on %s returns nothing (%v)", names.RemQueueCapacity, err)
	}
	var reasons []string
	for r, n := range excused {
		reasons = append(reasons, fmt.Sprintf("%3d %s", n, r))
	}
	sort.Strings(reasons)
	t.Logf("%d queries checked, %d returned data; excused:\n%s", checked, passed, strings.Join(reasons, "\n"))
	if checked == 0 {
		t.Fatal("no query was checked")
	}
}

// madeByPrometheus are series Prometheus itself writes.
var madeByPrometheus = map[string]bool{names.PrometheusAlerts: true, names.PrometheusUp: true}

// undeclared returns the first family expr reads that is neither declared,
// recorded here, nor written by Prometheus.
func undeclared(expr string, families namestest.Families, recorded map[string]bool) string {
	sels, _ := selectors(expr)
	for _, s := range sels {
		if families.Has(s.Metric) || recorded[s.Metric] || madeByPrometheus[s.Metric] {
			continue
		}
		return s.Metric
	}
	return ""
}
