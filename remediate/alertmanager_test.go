package remediate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/proctest"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/promtest"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startAlertmanager runs the Alertmanager binary bin with config in a temp
// dir and returns its base URL once it is ready.
func startAlertmanager(t *testing.T, bin, config string) string {
	t.Helper()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfgFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	log := proctest.Start(t, exec.Command(bin, "--config.file="+cfgFile, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(port), "--cluster.listen-address=", "--log.level=debug"), "alertmanager")
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(base + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager did not become ready:\n%s", log.String())
		}
	}
}

// postAlerts sends alerts to Alertmanager's API v2, as Prometheus does.
func postAlerts(t *testing.T, am string, labels ...map[string]string) {
	t.Helper()
	type apiAlert struct {
		Labels   map[string]string `json:"labels"`
		StartsAt time.Time         `json:"startsAt"`
	}
	var list []apiAlert
	for _, l := range labels {
		list = append(list, apiAlert{Labels: l, StartsAt: time.Now().UTC()})
	}
	b, _ := json.Marshal(list)
	resp, err := http.Post(am+"/api/v2/alerts", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("alertmanager answered %d to the alerts", resp.StatusCode)
	}
}

// runAs runs argv as the cluster's unprivileged user when the test runs as root.
func runAs(t *testing.T, argv ...string) (string, error) {
	t.Helper()
	if os.Geteuid() == 0 {
		argv = append([]string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}, argv...)
	}
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	return string(out), err
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !ok(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// byAlertname returns the decisions about alerts called name.
func (h *harness) byAlertname(t *testing.T, name string) []Record {
	var out []Record
	for _, r := range h.records(t) {
		if r.Alertname == name && r.Result != ResultStarted {
			out = append(out, r)
		}
	}
	return out
}

// TestEndToEndWithAlertmanager drives two receiver replicas through a real
// Alertmanager, once per stack (Debian's 0.25 and the current release):
// alerts posted to its API v2 are routed to both webhooks (basic auth), and
// the actions run against a real PostgreSQL and a real pgBackRest repository.
func TestEndToEndWithAlertmanager(t *testing.T) {
	promtest.RunAlertmanager(t, testEndToEndWithAlertmanager)
}

func testEndToEndWithAlertmanager(t *testing.T, stack promtest.Stack) {
	amBin := stack.Alertmanager(t)
	if _, err := exec.LookPath("pgbackrest"); err != nil {
		pgtest.Skip(t, "pgBackRest", "scripts/install-deps.sh (Debian package pgbackrest)")
	}
	if _, err := exec.LookPath("setpriv"); err != nil && os.Geteuid() == 0 {
		pgtest.Skip(t, "setpriv", "apt-get install util-linux")
	}
	// The repository, its config, logs and locks, writable by the cluster's user.
	bdir, err := os.MkdirTemp("", "pgbackrest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(bdir) })
	for _, d := range []string{"", "repo", "log", "lock"} {
		p := filepath.Join(bdir, d)
		if err := os.MkdirAll(p, 0o750); err != nil {
			t.Fatal(err)
		}
		if os.Geteuid() == 0 {
			if err := os.Chown(p, pgtest.UnprivilegedUID, pgtest.UnprivilegedGID); err != nil {
				t.Fatal(err)
			}
		}
	}
	conf := filepath.Join(bdir, "pgbackrest.conf")
	pg := pgtest.StartT(t, pgtest.Options{Conf: []string{
		"wal_level = replica", "archive_mode = on",
		fmt.Sprintf("archive_command = 'pgbackrest --config=%s --stanza=main archive-push %%p'", conf),
	}})
	if err := os.WriteFile(conf, fmt.Appendf(nil, `[global]
repo1-path=%s/repo
log-path=%s/log
lock-path=%s/lock
log-level-console=warn
log-level-file=off
start-fast=y
repo1-retention-full=2
archive-timeout=30
[main]
pg1-path=%s
pg1-port=%d
pg1-socket-path=%s
pg1-user=postgres
`, bdir, bdir, bdir, pg.DataDir, pg.Port, pg.SocketDir), 0o644); err != nil {
		t.Fatal(err)
	}
	pgbr := []string{"pgbackrest", "--config=" + conf, "--stanza=main"}
	if out, err := runAs(t, append(pgbr, "stanza-create")...); err != nil {
		t.Fatalf("stanza-create: %v\n%s", err, out)
	}
	// A backup that really fails: the repository's backup directory is read-only.
	backupDir := filepath.Join(bdir, "repo", "backup", "main")
	if err := os.Chmod(backupDir, 0o500); err != nil {
		t.Fatal(err)
	}
	if out, err := runAs(t, append(pgbr, "--type=full", "backup")...); err == nil {
		t.Fatalf("the sabotaged backup succeeded:\n%s", out)
	}
	if err := os.Chmod(backupDir, 0o750); err != nil {
		t.Fatal(err)
	}

	ctx := ctxT(t)
	if err := pg.CreateDatabase(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if err := pg.Exec(ctx, "app",
		"CREATE ROLE app_user LOGIN PASSWORD 'pw'",
		"CREATE TABLE orders (id int PRIMARY KEY, pad text) WITH (autovacuum_enabled = false)",
		"INSERT INTO orders SELECT g, repeat('x', 40) FROM generate_series(1, 20000) g",
		"DELETE FROM orders"); err != nil {
		t.Fatal(err)
	}
	deadTuples := func() (n int64, vacuums int64) {
		conn, err := pg.Connect(ctx, "app")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		if err := conn.QueryRow(ctx, "SELECT n_dead_tup, vacuum_count FROM pg_stat_user_tables WHERE relname = 'orders'").Scan(&n, &vacuums); err != nil {
			t.Fatal(err)
		}
		return n, vacuums
	}
	waitFor(t, "20000 dead tuples in the statistics", func() bool { n, _ := deadTuples(); return n >= 20000 })

	session := func() *pgx.Conn {
		c, err := pgx.Connect(ctx, pg.DSN("app_user", "pw", "app")+"&application_name=leaky")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		if _, err := c.Exec(ctx, "BEGIN"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Exec(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
		return c
	}
	old := session()
	time.Sleep(4 * time.Second)
	young := session()

	cfg := fmt.Sprintf(`
mode: enforce
audit: {file: AUDIT}
allow:
  databases: [app]
  schemas: [public]
  tables: ['public\..*']
  roles: ['app_.*']
targets:
  - name: pg1
    match: {instance: "pg1:9932"}
    dsn: '%s'
rules:
  - alertname: PostgresDeadTuplesHigh
    action: vacuum
    cooldown: 1h
  - alertname: PostgresIdleInTransaction
    action: terminate_backend
    params: {sessions: idle_in_transaction, min_age: 3s}
  - alertname: PostgresBackupFailed
    match: {source: pgbackrest}
    action: backup_retry
    params:
      command: [%[2]s, "--stanza={stanza}", "--type={type}", backup]
      info: [%[2]s, "--stanza={stanza}", --output=json, info]
      label_patterns: {type: 'full|diff|incr'}
      lookback: 1h
`, pg.SuperuserDSN("postgres"), argvYAML(t, pgbr[:2]))
	var replicas []*harness
	var hooks []string
	for i := 0; i < 2; i++ {
		h := startReceiver(t, cfg)
		reg := prometheus.NewRegistry()
		base := serveWithAuth(t, h.r, reg, "alertmanager", "s3cret")
		replicas = append(replicas, h)
		hooks = append(hooks, fmt.Sprintf(`
      - url: %s%s
        send_resolved: true
        max_alerts: 100
        http_config:
          basic_auth: {username: alertmanager, password: s3cret}`, base, WebhookPath))
	}
	am := startAlertmanager(t, amBin, `
route:
  receiver: remediate
  group_by: ['...']
  group_wait: 100ms
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: remediate
    webhook_configs:`+strings.Join(hooks, ""))

	common := map[string]string{"instance": "pg1:9932", "job": "postgres"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range common {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	decided := func(name string) bool {
		return len(replicas[0].byAlertname(t, name)) >= 1 && len(replicas[1].byAlertname(t, name)) >= 1
	}
	postAlerts(t, am,
		with("alertname", "PostgresDeadTuplesHigh", "datname", "app", "schemaname", "public", "relname", "orders"),
		with("alertname", "PostgresIdleInTransaction", "datname", "app"),
	)
	for _, name := range []string{"PostgresDeadTuplesHigh", "PostgresIdleInTransaction"} {
		waitFor(t, "both replicas to decide on "+name, func() bool { return decided(name) })
	}
	// The backup takes seconds; sent after the session checks so that the
	// younger session cannot age past the threshold meanwhile.
	postAlerts(t, am, with("alertname", "PostgresBackupFailed", "source", "pgbackrest", "stanza", "main", "type", "full"))
	for _, name := range []string{"PostgresDeadTuplesHigh", "PostgresIdleInTransaction", "PostgresBackupFailed"} {
		waitFor(t, "both replicas to decide on "+name, func() bool { return decided(name) })
		ran := 0
		for _, h := range replicas {
			for _, r := range h.byAlertname(t, name) {
				switch r.Result {
				case ResultRan:
					ran++
				case ResultSkipped:
				default:
					t.Errorf("%s: %+v", name, r)
				}
			}
		}
		if ran != 1 {
			t.Errorf("%s ran %d times across the two replicas, want exactly once", name, ran)
		}
	}
	if n, vacuums := deadTuples(); vacuums != 1 || n > 100 {
		t.Errorf("after the remediation: %d dead tuples, vacuum_count %d", n, vacuums)
	}
	if alive(t, old) {
		t.Error("the old idle-in-transaction session survived")
	}
	if !alive(t, young) {
		t.Error("the younger session was terminated")
	}
	out, err := runAs(t, append(pgbr, "--output=json", "info")...)
	if err != nil {
		t.Fatalf("pgbackrest info: %v\n%s", err, out)
	}
	if why, err := checkRepository([]byte(out), "main", "full", time.Now().Add(-time.Hour)); err != nil || !strings.Contains(why, "succeeded") {
		t.Errorf("no successful full backup after the retry (%q, %v):\n%s", why, err, out)
	}
}

// argvYAML renders the program part of a command (with setpriv as root).
func argvYAML(t *testing.T, argv []string) string {
	if os.Geteuid() == 0 {
		argv = append([]string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}, argv...)
	}
	b, _ := json.Marshal(argv)
	return strings.Trim(string(b), "[]")
}
