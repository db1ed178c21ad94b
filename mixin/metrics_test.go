package mixin

import (
	"sort"
	"strings"
	"testing"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/namestest"
)

// TestEveryMetricIsCatalogued proves every metric a rule reads is in the
// catalogue (package names), whose own test checks each name against what
// the exporter declares and the pack records.
func TestEveryMetricIsCatalogued(t *testing.T) {
	cat := namestest.Read(t)
	used := map[string][]string{}
	for _, f := range committedRules(t) {
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				for _, n := range MetricNames(r.Expr) {
					if u := used[n]; len(u) == 0 || u[len(u)-1] != r.Alert+r.Record {
						used[n] = append(u, r.Alert+r.Record)
					}
				}
			}
		}
	}
	if len(used) < 40 {
		t.Fatalf("only %d metric names found in the rules; the extractor is broken", len(used))
	}
	names := make([]string, 0, len(used))
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !cat.Holds(n) {
			t.Errorf("%s (used by %s) is not in the catalogue, package names", n, strings.Join(used[n], ", "))
		}
	}
}
