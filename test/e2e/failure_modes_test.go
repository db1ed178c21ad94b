package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/promtest"
	"github.com/pghardening/pg_hardening_exporter/mixin"
)

// The failure modes operators meet first: each test makes the failure on
// real servers, runs Prometheus on the rendered pack against the exporter,
// and waits for the alert through /api/v1/alerts.

// startPrometheus renders c into a temporary directory and runs Prometheus
// on it, scraping targets by job.
func startPrometheus(t *testing.T, c *mixin.Config, targets map[string][]string) *promtest.Server {
	t.Helper()
	dir := t.TempDir()
	if err := c.Write(dir); err != nil {
		t.Fatal(err)
	}
	return promtest.Start(t, promtest.Options{Targets: targets, RuleFiles: []string{filepath.Join(dir, "rules", "*.yml")}})
}

// waitAlert waits until alert is active in state ("" for gone, "firing")
// with the given labels, and fails the test with the active alerts if not.
func waitAlert(t *testing.T, prom *promtest.Server, alert, state string, labels map[string]string) promtest.Alert {
	t.Helper()
	ctx := context.Background()
	alerts, err := prom.WaitAlerts(ctx, 60*time.Second, func(a []promtest.Alert) bool {
		found := len(promtest.Find(a, alert, "", labels)) > 0
		if state == "" {
			return !found
		}
		return len(promtest.Find(a, alert, state, labels)) > 0
	})
	if err != nil {
		what := "fire"
		if state == "" {
			what = "resolve"
		}
		t.Fatalf("%s%v did not %s: %v; active alerts: %v", alert, labels, what, err, alerts)
	}
	if state == "" {
		return promtest.Alert{}
	}
	a := promtest.Find(alerts, alert, state, labels)[0]
	if d := a.Annotations["description"]; d == "" || strings.Contains(d, "{{") || strings.Contains(d, "<no value>") {
		t.Errorf("%s fired with description %q", alert, d)
	}
	return a
}

// requireSilent fails the test if alert is active with the labels now.
func requireSilent(t *testing.T, prom *promtest.Server, alert string, labels map[string]string) {
	t.Helper()
	alerts, err := prom.Alerts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if f := promtest.Find(alerts, alert, "", labels); len(f) > 0 {
		t.Fatalf("%s%v is active before its condition exists: %v", alert, labels, f)
	}
}

// waitSeries waits until q returns a sample for which cond holds.
func waitSeries(t *testing.T, prom *promtest.Server, what, q string, cond func(v string) bool) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := prom.Query(ctx, q)
		if err == nil && len(res) > 0 && cond(res[0].Value) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s still not %s: %s returned %v (%v)", what, q, res, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func writeRecord(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestMissingBackupDataAlerts: a backup source that cannot be read, one that
// lists no backup, and a stanza whose verification failed and whose restore
// was never tested each alert; none is read as all clear.
func TestMissingBackupDataAlerts(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	dsn, err := s.CreateMonitorRole(context.Background(), "e2e_backup_monitor", "e2e-secret")
	if err != nil {
		t.Fatal(err)
	}
	empty, checked := t.TempDir(), t.TempDir()
	end := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	writeRecord(t, checked, "backup-main-full-1.json",
		`{"format_version": 1, "kind": "backup", "status": "success", "type": "full", "stanza": "main", "end_time": "`+end+`"}`)
	writeRecord(t, checked, "verify-main-1.json",
		`{"format_version": 1, "kind": "verify", "status": "failure", "stanza": "main", "end_time": "`+end+`"}`)
	sources := fmt.Sprintf(`backup_sources:
  - {name: broken, type: manifest, directory: %q, ttl: 1s}
  - {name: empty, type: manifest, directory: %q, ttl: 1s}
  - {name: checked, type: manifest, directory: %q, ttl: 1s}
`, filepath.Join(t.TempDir(), "not-there"), empty, checked)
	exp := serveExporter(t, dsn, sources)
	prom := startPrometheus(t, testConfig(), map[string][]string{"postgres": {exp.addr}})

	for _, want := range []struct {
		alert  string
		labels map[string]string
	}{
		{"PostgresBackupSourceDown", map[string]string{"source": "broken"}},
		{"PostgresBackupMissing", map[string]string{"source": "empty"}},
		{"PostgresBackupVerificationFailed", map[string]string{"source": "checked", "stanza": "main"}},
		{"PostgresRestoreTestFailed", map[string]string{"source": "checked", "stanza": "main"}},
	} {
		waitAlert(t, prom, want.alert, "firing", want.labels)
	}
	for _, a := range []string{"PostgresBackupSourceDown", "PostgresBackupMissing"} {
		requireSilent(t, prom, a, map[string]string{"source": "checked"})
	}

	// A passing verification and restore test clear the checked stanza.
	later := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	writeRecord(t, checked, "verify-main-2.json",
		`{"format_version": 1, "kind": "verify", "status": "success", "stanza": "main", "end_time": "`+later+`"}`)
	writeRecord(t, checked, "restore_test-main-1.json",
		`{"format_version": 1, "kind": "restore_test", "status": "success", "stanza": "main", "end_time": "`+later+`"}`)
	waitAlert(t, prom, "PostgresBackupVerificationFailed", "", map[string]string{"source": "checked"})
	waitAlert(t, prom, "PostgresRestoreTestFailed", "", map[string]string{"source": "checked"})
}

// TestQuietPrimaryBreachesRPO: a primary that archived everything and then
// writes one small transaction completes no WAL file, yet that commit is
// at risk; past the RPO the alert fires, and a segment switch that archives
// it resolves the alert.
func TestQuietPrimaryBreachesRPO(t *testing.T) {
	pgtest.RequireServer(t, srv)
	ctx := context.Background()
	archive, err := os.MkdirTemp("", "e2e-archive-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(archive) })
	if err := os.Chmod(archive, 0o777); err != nil {
		t.Fatal(err)
	}
	primary := pgtest.StartT(t, pgtest.Options{Conf: []string{
		"archive_mode = on",
		fmt.Sprintf("archive_command = 'test ! -f %s/%%f && cp %%p %s/%%f'", archive, archive),
	}})
	dsn, err := primary.CreateMonitorRole(ctx, "e2e_rpo_monitor", "e2e-secret")
	if err != nil {
		t.Fatal(err)
	}
	if err := primary.Exec(ctx, "", "CREATE TABLE rpo_probe (i int)", "SELECT pg_switch_wal()"); err != nil {
		t.Fatal(err)
	}
	c := testConfig()
	rpo := mixin.Value(3)
	short := mixin.Duration(time.Second)
	c.Alerts["PostgresRPOBreached"] = mixin.AlertConfig{For: &short, Critical: &rpo}
	exp := serveExporter(t, dsn, "")
	prom := startPrometheus(t, c, map[string][]string{"postgres": {exp.addr}})

	// Everything written is archived: nothing is at risk, however long ago
	// the last file was archived.
	waitSeries(t, prom, "fully archived", `pg_wal_unarchived_bytes{job="postgres"}`, func(v string) bool { return v == "0" })
	time.Sleep(4 * time.Second)
	requireSilent(t, prom, "PostgresRPOBreached", nil)

	if err := primary.Exec(ctx, "", "INSERT INTO rpo_probe VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	a := waitAlert(t, prom, "PostgresRPOBreached", "firing", map[string]string{"severity": "critical"})
	res, err := prom.Query(ctx, `pg_wal_archive_ready_files{job="postgres"}`)
	if err != nil || len(res) != 1 || res[0].Value != "0" {
		t.Errorf("the alert should fire with no WAL file waiting; .ready files: %v (%v)", res, err)
	}
	if !strings.Contains(a.Annotations["description"], "unarchived") {
		t.Errorf("description %q", a.Annotations["description"])
	}
	if err := primary.Exec(ctx, "", "SELECT pg_switch_wal()"); err != nil {
		t.Fatal(err)
	}
	waitAlert(t, prom, "PostgresRPOBreached", "", nil)
}

// TestStoppedWALReceiverAlerts: a standby whose WAL receiver is stopped
// replays everything it received, so its replay lag reads 0; the receiver
// alert fires all the same, and clears when streaming resumes.
func TestStoppedWALReceiverAlerts(t *testing.T) {
	pgtest.RequireServer(t, srv)
	ctx := context.Background()
	primary := pgtest.StartT(t, pgtest.Options{})
	if _, err := primary.CreateMonitorRole(ctx, "e2e_repl_monitor", "e2e-secret"); err != nil {
		t.Fatal(err)
	}
	standby := pgtest.StartT(t, pgtest.Options{StandbyOf: primary})
	exp := serveExporter(t, standby.DSN("e2e_repl_monitor", "e2e-secret", "postgres"), "")
	prom := startPrometheus(t, testConfig(), map[string][]string{"postgres": {exp.addr}})
	waitSeries(t, prom, "streaming", `pg_replication_wal_receiver_connected{job="postgres"}`, func(v string) bool { return v == "1" })
	requireSilent(t, prom, "PostgresWalReceiverDown", nil)

	conn, err := standby.Connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var conninfo string
	if err := conn.QueryRow(ctx, "SHOW primary_conninfo").Scan(&conninfo); err != nil {
		t.Fatal(err)
	}
	// An empty primary_conninfo stops the WAL receiver (reloadable since 13).
	for _, q := range []string{"ALTER SYSTEM SET primary_conninfo = ''", "SELECT pg_reload_conf()"} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	waitAlert(t, prom, "PostgresWalReceiverDown", "firing", map[string]string{"severity": "critical"})
	requireSilent(t, prom, "PostgresReplicationLagHigh", nil)

	for _, q := range []string{"ALTER SYSTEM SET primary_conninfo = " + quoteLiteral(conninfo), "SELECT pg_reload_conf()"} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	waitAlert(t, prom, "PostgresWalReceiverDown", "", nil)
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// TestExporterWatchesItself: in the /probe layout the exporter's own
// /metrics is scraped under a job of its own, named here "central", not
// postgres. A failed configuration reload and the exporter going down both
// alert under that job, and the failed scrapes of the server's job burn the
// availability budget until the page fires.
func TestExporterWatchesItself(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	dsn, err := s.CreateMonitorRole(context.Background(), "e2e_self_monitor", "e2e-secret")
	if err != nil {
		t.Fatal(err)
	}
	exp := serveExporter(t, dsn, "")
	c := testConfig()
	prom := startPrometheus(t, c, map[string][]string{"postgres": {exp.addr}, "central": {exp.addr}})
	waitSeries(t, prom, "scraped", `pg_up{job="postgres"}`, func(v string) bool { return v == "1" })
	waitSeries(t, prom, "scraped", `pg_exporter_build_info{job="central"}`, func(v string) bool { return v == "1" })
	requireSilent(t, prom, "PostgresExporterConfigReloadFailed", nil)
	requireSilent(t, prom, "PostgresAvailabilityBudgetBurn", nil)

	if err := os.WriteFile(exp.configFile, []byte("connection:\n  no_such_setting: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post("http://"+exp.addr+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitAlert(t, prom, "PostgresExporterConfigReloadFailed", "firing", map[string]string{"job": "central"})

	// The exporter goes away: both its jobs fail to scrape.
	exp.stop()
	waitAlert(t, prom, "PostgresExporterDown", "firing", map[string]string{"job": "central"})
	waitAlert(t, prom, "PostgresExporterDown", "firing", map[string]string{"job": "postgres"})
	waitAlert(t, prom, "PostgresAvailabilityBudgetBurn", "firing", map[string]string{"job": "postgres", "severity": "critical"})
}
