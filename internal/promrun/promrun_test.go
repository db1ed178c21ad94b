package promrun_test

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

	"github.com/pghardening/pg_hardening_exporter/internal/promrun"
)

// TestScrapeRulesAndQueries serves one gauge, lets Prometheus scrape it and
// evaluate a recording rule, and reads both back through the API.
func TestScrapeRulesAndQueries(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "# TYPE promrun_test_value gauge\npromrun_test_value 42")
	}))
	defer hs.Close()
	rules := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(rules, []byte("groups:\n- name: t\n  rules:\n  - record: promrun_test_doubled\n    expr: 2 * promrun_test_value\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := promrun.Start(t, promrun.Options{Job: "unit", Targets: []string{strings.TrimPrefix(hs.URL, "http://")},
		Labels: map[string]string{"cluster": "c1"}, RuleFiles: []string{rules}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	begin := time.Now()
	if err := p.WaitFor(ctx, `promrun_test_doubled{job="unit", cluster="c1"} == 84`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	res, err := p.QueryRange(ctx, `promrun_test_value{job="unit"}`, begin, time.Now(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Samples < 2 || res[0].Labels["cluster"] != "c1" {
		t.Fatalf("want one series with samples over the range and the target label, got %+v", res)
	}
	if _, err := p.Query(ctx, `sum by (job (promrun_test_value)`, time.Now()); err == nil {
		t.Fatal("a malformed query did not return an error")
	}
	if res, err := p.Query(ctx, `absent_metric_name`, time.Now()); err != nil || len(res) != 0 {
		t.Fatalf("an unknown metric: want no series and no error, got %v, %v", res, err)
	}
}
