package promtest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
)

// TestScrapeAndAlert starts each stack's Prometheus against a tiny target and
// a rule that fires on its value, then sees the alert fire and resolve.
func TestScrapeAndAlert(t *testing.T) {
	RunPrometheus(t, testScrapeAndAlert)
}

func testScrapeAndAlert(t *testing.T, st Stack) {
	value := make(chan float64, 1)
	value <- 1
	cur := 1.0
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case cur = <-value:
		default:
		}
		fmt.Fprintf(w, "# TYPE demo_value gauge\ndemo_value %g\n", cur)
	}))
	defer target.Close()
	rules := filepath.Join(t.TempDir(), "demo.yml")
	if err := os.WriteFile(rules, []byte(`groups:
  - name: demo
    rules:
      - alert: DemoHigh
        expr: demo_value > 5
        labels: {severity: info}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	s := st.Start(t, Options{
		Targets:        map[string][]string{"demo": {strings.TrimPrefix(target.URL, "http://")}},
		RuleFiles:      []string{rules},
		ExternalLabels: map[string]string{"cluster": "test"},
	})
	ctx := context.Background()
	if _, err := s.WaitAlerts(ctx, 20*time.Second, func([]Alert) bool {
		res, err := s.Query(ctx, `demo_value{job="demo"}`)
		return err == nil && len(res) == 1 && res[0].Value == "1"
	}); err != nil {
		t.Fatalf("Prometheus never scraped the target: %v", err)
	}
	alerts, err := s.Alerts(ctx)
	if err != nil || len(alerts) != 0 {
		t.Fatalf("alerts before the condition: %v %v", alerts, err)
	}
	value <- 7
	alerts, err = s.WaitAlerts(ctx, 20*time.Second, func(a []Alert) bool { return len(Find(a, "DemoHigh", "firing", nil)) == 1 })
	if err != nil {
		t.Fatalf("DemoHigh never fired: %v %v", alerts, err)
	}
	if a := Find(alerts, "DemoHigh", "firing", map[string]string{"job": "demo"})[0]; a.Value != "7e+00" {
		t.Errorf("alert value %q, want 7e+00", a.Value)
	}
	value <- 2
	if alerts, err := s.WaitAlerts(ctx, 20*time.Second, func(a []Alert) bool { return len(Find(a, "DemoHigh", "", nil)) == 0 }); err != nil {
		t.Fatalf("DemoHigh never resolved: %v %v", alerts, err)
	}
	if _, err := s.Query(ctx, "sum("); err == nil {
		t.Error("a malformed query gave no error")
	}
}

func TestConfigYAML(t *testing.T) {
	got := string(configYAML(Options{
		Targets:        map[string][]string{"b": {"h:2"}, "a": {"h:1"}},
		RuleFiles:      []string{"/r/*.yml"},
		ExternalLabels: map[string]string{"cluster": "c"},
		ProbeJobs: map[string]ProbeJob{"p": {Exporter: "e:9", Targets: []string{"db:5432/x"},
			Params: map[string][]string{"auth_module": {"m"}, "collect[]": {"tables", "indexes"}}}},
		ScrapeInterval: time.Second, EvaluationInterval: 2 * time.Second,
	}))
	want := `global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 2s
  external_labels:
    cluster: "c"
rule_files:
  - "/r/*.yml"
scrape_configs:
  - job_name: "a"
    static_configs:
      - targets:
          - "h:1"
  - job_name: "b"
    static_configs:
      - targets:
          - "h:2"
  - job_name: "p"
    metrics_path: /probe
    params:
      auth_module:
        - "m"
      collect[]:
        - "tables"
        - "indexes"
    static_configs:
      - targets:
          - "db:5432/x"
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: "e:9"
`
	if got != want {
		t.Errorf("config:\n%s\nwant:\n%s", got, want)
	}
}

func TestPrometheusRelease(t *testing.T) {
	for mod, want := range map[string]string{"v0.316.0": "3.16.0", "v0.300.1": "3.0.1", "v0.307.12": "3.7.12", "v2.55.1": "v2.55.1"} {
		if got := prometheusRelease(mod); got != want {
			t.Errorf("prometheusRelease(%s) = %s, want %s", mod, got, want)
		}
	}
}

// TestCurrentStackNamed proves the versions file is found from a package
// directory and names both modules, so the current stack has paths.
func TestCurrentStackNamed(t *testing.T) {
	vers, err := readVersions()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"PROMETHEUS_MODULE_VERSION", "ALERTMANAGER_MODULE_VERSION"} {
		if !strings.HasPrefix(vers[k], "v0.") {
			t.Errorf("%s: %s=%q, want a v0.x module version", versionsFile, k, vers[k])
		}
	}
	c := Current()
	if c.wantProm == "" || !strings.HasPrefix(c.wantProm, "3.") || c.wantAM == "" {
		t.Errorf("current stack wants Prometheus %q and Alertmanager %q", c.wantProm, c.wantAM)
	}
	if filepath.Base(filepath.Dir(c.promtool)) != "prometheus-"+vers["PROMETHEUS_MODULE_VERSION"] {
		t.Errorf("promtool at %s, not in a directory named by its module version", c.promtool)
	}
}

// TestReportedVersion reads the version the way Debian's and the built
// binaries print it, and gives "" for a binary that does not run.
func TestReportedVersion(t *testing.T) {
	pgtest.Integration(t) // runs programs
	dir := t.TempDir()
	for name, out := range map[string]string{
		"debian":  "prometheus, version 2.42.0+ds (branch: debian/sid, revision: 2.42.0+ds-5+deb12u1)",
		"current": "alertmanager, version 0.35.0 (branch: , revision: v0.35.0)",
	} {
		bin := filepath.Join(dir, name)
		if err := os.WriteFile(bin, []byte("#!/bin/sh\necho '"+out+"'\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]string{"debian": "2.42.0", "current": "0.35.0", "missing": ""} {
		if got := reportedVersion(filepath.Join(dir, name)); got != want {
			t.Errorf("%s: version %q, want %q", name, got, want)
		}
	}
}
