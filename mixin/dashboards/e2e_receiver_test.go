package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/remediate"
)

// receiverJob is the scrape job of the remediation receiver in the e2e test.
const receiverJob = "remediate"

// startReceiver serves a remediation receiver in dry-run in-process, with a
// target on dsn and one that cannot be reached. It returns the receiver's
// address and a function that sends it one notification with an outcome of
// each kind the remediation board draws: an action decided (dry run), one
// refused, one failed and an alert no rule maps.
func startReceiver(t *testing.T, dsn string) (addr string, notify func()) {
	t.Helper()
	cfgYAML := fmt.Sprintf(`
mode: dry-run
audit: {file: %q}
allow:
  databases: [postgres]
  schemas: [public]
  tables: ['public\.big']
targets:
  - name: e2e
    match: {instance: "e2e"}
    dsn: %q
  - name: unreachable
    match: {instance: "unreachable"}
    dsn: "postgres://nobody@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=1"
rules:
  - alertname: PostgresDeadTuplesHigh
    action: vacuum
    params: {min_dead_tuples: 1}
`, filepath.Join(t.TempDir(), "audit.jsonl"), dsn)
	cfg, err := remediate.Parse("e2e-remediate.yml", []byte(cfgYAML))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	r, err := remediate.New(cfg, remediate.Options{Logger: quiet, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(r.Routes(reg, nil))
	t.Cleanup(func() { hs.Close(); r.Close() })
	notify = func() {
		t.Helper()
		alert := func(instance, relname string) remediate.Alert {
			return remediate.Alert{Status: "firing", StartsAt: time.Now().UTC(), Labels: map[string]string{
				"alertname": "PostgresDeadTuplesHigh", "instance": instance,
				"datname": "postgres", "schemaname": "public", "relname": relname}}
		}
		unmapped := alert("e2e", "big")
		unmapped.Labels["alertname"] = "DashboardsE2EWatchdog"
		body, err := json.Marshal(remediate.Message{Version: "4", Status: "firing", Receiver: receiverJob, Alerts: []remediate.Alert{
			alert("e2e", "big"), alert("e2e", "not_allowed"), alert("unreachable", "big"), unmapped}})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post(hs.URL+remediate.WebhookPath, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("the receiver answered the notification with %d, want 202", resp.StatusCode)
		}
	}
	return strings.TrimPrefix(hs.URL, "http://"), notify
}
