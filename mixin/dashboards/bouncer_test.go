package dashboards

import (
	"regexp"
	"strings"
	"testing"
)

// TestPgBouncerQueriesKeepItsName: one exporter may watch several PgBouncers,
// told apart by the pgbouncer label, so a query on a PgBouncer family keeps
// the label through every aggregation and shows it in the legend.
func TestPgBouncerQueriesKeepItsName(t *testing.T) {
	by := regexp.MustCompile(`\bby \(([^)]*)\)`)
	checked := 0
	for _, b := range boards(Defaults()) {
		for _, p := range b.panels() {
			for _, q := range p.Queries {
				sels, err := selectors(q.Expr)
				if err != nil {
					t.Fatalf("%s/%s: %v", b.UID, p.Title, err)
				}
				bouncer := false
				for _, s := range sels {
					bouncer = bouncer || strings.HasPrefix(s.Metric, "pgbouncer_")
				}
				if !bouncer {
					continue
				}
				checked++
				if !strings.Contains(q.Legend, "{{pgbouncer}}") {
					t.Errorf("%s/%s: legend %q does not name the PgBouncer ({{pgbouncer}})", b.UID, p.Title, q.Legend)
				}
				for _, m := range by.FindAllStringSubmatch(q.Expr, -1) {
					if !strings.Contains(", "+m[1]+",", " pgbouncer,") {
						t.Errorf("%s/%s: %q drops the pgbouncer label", b.UID, p.Title, m[0])
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no query reads a PgBouncer family")
	}
}
