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
)

// TestScrapeAndAlert starts Prometheus against a tiny target and a rule that
// fires on its value, then sees the alert fire and resolve.
func TestScrapeAndAlert(t *testing.T) {
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
	s := Start(t, Options{
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
`
	if got != want {
		t.Errorf("config:\n%s\nwant:\n%s", got, want)
	}
}
