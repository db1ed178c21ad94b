package demo

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/bouncertest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/syncbuf"
)

// The demo, driven like a newcomer would: the alerts it promises fire in
// Prometheus, the receiver logs dry-run decisions for them, and when it stops
// no process and no directory is left.
func TestDemoAlertsFireAndEverythingIsCleanedUp(t *testing.T) {
	pgtest.Integration(t)
	pgtest.RequireBinaries(t)
	if _, err := bouncertest.Available(); err != nil {
		pgtest.Skip(t, "pgbouncer", "make deps (scripts/install-deps.sh)")
	}
	for _, tool := range []string{"/usr/bin/prometheus", "/usr/bin/prometheus-alertmanager"} {
		if _, err := os.Stat(tool); err != nil {
			pgtest.Skip(t, tool, "make deps (scripts/install-deps.sh)")
		}
	}
	bin := filepath.Join(t.TempDir(), "pg_hardening_exporter")
	if out, err := exec.Command("go", "build", "-o", bin, "../..").CombinedOutput(); err != nil {
		t.Fatalf("building the exporter: %v\n%s", err, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	ready := make(chan State, 1)
	done := make(chan error, 1)
	var out syncbuf.Buffer
	go func() {
		done <- Run(ctx, Options{Bin: bin, Out: &out, Ready: func(s State) { ready <- s }})
	}()
	var st State
	select {
	case st = <-ready:
	case err := <-done:
		t.Fatalf("demo ended before it was ready: %v\n%s", err, out.String())
	}

	want := []string{"PostgresIdleInTransaction", "PostgresLongRunningTransaction", "PostgresBlockingSessions",
		"PostgresPoolUtilizationHigh", "PgBouncerClientsWaiting", "PostgresDeadTuplesHigh", "PostgresSlowQueriesHigh"}
	// Each promised alert must fire within the time; some resolve on their
	// own later (PgBouncer's query_wait_timeout ends the waiting client), so
	// what counts is every alert seen firing at some point.
	fired := map[string]bool{}
	var seen []string
	for deadline := time.Now().Add(150 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
		for _, a := range firingAlerts(t, st.Prometheus) {
			if !fired[a] {
				fired[a] = true
				seen = append(seen, a)
			}
		}
		if containsAll(seen, want) {
			break
		}
	}
	if !containsAll(seen, want) {
		t.Fatalf("fired within 150s: %v; want at least %v\n%s", seen, want, out.String())
	}
	for _, d := range []struct{ alert, action string }{
		{"PostgresIdleInTransaction", "terminate_backend"},
		{"PostgresDeadTuplesHigh", "vacuum"},
		{"PostgresBlockingSessions", "terminate_backend"},
	} {
		var decided bool
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline) && !decided; time.Sleep(2 * time.Second) {
			decided = dryRunDecision(t, st.Receiver, d.alert, d.action)
		}
		if !decided {
			t.Errorf("the receiver logged no dry-run %s decision for %s", d.action, d.alert)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the demo did not stop within a minute")
	}
	// What the demo printed: a line as each promised alert fired, a line per
	// decision, and the summary with each alert and each decision.
	printed := out.String()
	for _, a := range want {
		if !regexp.MustCompile(`(?m)^demo \d+:\d\d  ` + a + `( [^\n]*)? firing, \d+:\d\d after it started pending$`).MatchString(printed) {
			t.Errorf("no line says %s fired:\n%s", a, printed)
		}
	}
	for _, line := range []string{
		"receiver: would VACUUM public.leads: 20 000 dead tuples before, dry-run (PostgresDeadTuplesHigh)",
		"receiver: would terminate backend sessions in app: pid ",
		"demo: what happened in ",
		"first alert fired ",
		"receiver decisions:",
		"providers:",
	} {
		if !strings.Contains(printed, line) {
			t.Errorf("the demo did not print %q:\n%s", line, printed)
		}
	}
	_, summary, _ := strings.Cut(printed, "demo: what happened in ")
	for _, a := range want {
		if !regexp.MustCompile(`(?m)^  ` + a + `\b.*\s\d+:\d\d\s+\d+:\d\d\s`).MatchString(summary) {
			t.Errorf("the summary has no row with %s's pending and firing times:\n%s", a, summary)
		}
	}
	for _, pid := range st.Pids {
		if alive(pid) {
			t.Errorf("process %d still runs after the demo stopped", pid)
		}
	}
	if _, err := os.Stat(st.Dir); !os.IsNotExist(err) {
		t.Errorf("%s is left behind (%v)", st.Dir, err)
	}
}

func firingAlerts(t *testing.T, prom string) []string {
	t.Helper()
	var body struct {
		Data struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		} `json:"data"`
	}
	getJSON(t, prom+"/api/v1/alerts", &body)
	seen := map[string]bool{}
	for _, a := range body.Data.Alerts {
		if a.State == "firing" {
			seen[a.Labels["alertname"]] = true
		}
	}
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func dryRunDecision(t *testing.T, receiver, alert, action string) bool {
	t.Helper()
	var body struct {
		Actions []struct {
			Result    string `json:"result"`
			Action    string `json:"action"`
			Alertname string `json:"alertname"`
		} `json:"actions"`
	}
	getJSON(t, receiver+"/api/v1/actions", &body)
	for _, a := range body.Actions {
		if a.Alertname == alert && a.Action == action && a.Result == "dry_run" {
			return true
		}
	}
	return false
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v: %s", url, err, b)
	}
}

func containsAll(have, want []string) bool {
	set := map[string]bool{}
	for _, h := range have {
		set[h] = true
	}
	for _, w := range want {
		if !set[w] {
			return false
		}
	}
	return true
}
