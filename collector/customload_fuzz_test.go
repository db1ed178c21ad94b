package collector_test

import (
	"os"
	"strings"
	"testing"

	"github.com/pghardening/pg_hardening_exporter/collector"
)

// FuzzLoadCustomQueries: the loader never panics; it returns either queries
// ready to run or errors that each name the file.
func FuzzLoadCustomQueries(f *testing.F) {
	for _, path := range []string{"../queries.yaml", "/usr/share/doc/prometheus-postgres-exporter/examples/queries.yaml"} {
		if b, err := os.ReadFile(path); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(runtimeQueries))
	f.Add([]byte("q:\n  query: SELECT 1 AS v\n  runonserver: '>=10.0.0 <13'\n  metrics: [{v: {usage: GAUGE, pg_version: '>=9.6'}}]\n"))
	f.Add([]byte("a: &x\n  query: SELECT 1 AS v\n  metrics: [{v: {usage: GAUGE}}]\nb: *x\n"))
	f.Add([]byte("q:\n  query: SELECT 'on' AS s\n  metrics: [{s: {usage: MAPPEDMETRIC, metric_mapping: {on: 1}}}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		qs, err := collector.LoadCustomQueries([]collector.CustomSource{{Name: "fuzz.yaml", Data: data}}, []string{"database", "postmaster", "settings"})
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "fuzz.yaml") {
					t.Fatalf("error line does not name the file: %q", line)
				}
			}
			return
		}
		for _, q := range qs {
			if q.Name == "" || strings.TrimSpace(q.SQL) == "" {
				t.Fatalf("loaded a query without name or SQL: %+v", q)
			}
			q.Instance()
		}
	})
}
