package mixin

import (
	"sort"
	"strings"
	"testing"

	"github.com/pghardening/pg_hardening_exporter/internal/metricsdoc"
	"github.com/pghardening/pg_hardening_exporter/mixin/names"
)

// notYetDeclared lists the metrics the rules read that collectors still being
// written will declare (the collector is named with each). Once a name is
// declared the test fails until it is removed from here, so the list only
// shrinks.
var notYetDeclared = map[string]string{}

// madeByPrometheus are series Prometheus writes itself for every scrape.
var madeByPrometheus = map[string]bool{names.PrometheusUp: true}

// declared returns every metric name the exporter can expose, from its
// descriptors: collectors, the framework's meta-metrics and its self metrics.
// Histograms expose _bucket, _count and _sum.
func declared() map[string]bool {
	out := map[string]bool{}
	for _, m := range metricsdoc.All() {
		if m.Pattern {
			continue
		}
		out[m.Name] = true
		if m.TypeName() == "histogram" {
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				out[m.Name+suffix] = true
			}
		}
	}
	return out
}

// TestEveryMetricExists proves every metric a rule reads is one the exporter
// declares, a recording rule of the pack, a pg_settings_<name> gauge, or (for
// now) on the not-yet-declared list.
func TestEveryMetricExists(t *testing.T) {
	have := declared()
	files := committedRules(t)
	recorded := map[string]bool{}
	for _, f := range files {
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					recorded[r.Record] = true
				}
			}
		}
	}
	used := map[string][]string{}
	for _, f := range files {
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
		switch {
		case have[n]:
			if c, ok := notYetDeclared[n]; ok {
				t.Errorf("%s is declared now (collector %s): remove it from notYetDeclared", n, c)
			}
		case recorded[n], madeByPrometheus[n], strings.HasPrefix(n, "pg_settings_"):
		case notYetDeclared[n] != "":
			t.Logf("%s (used by %s) is not declared yet; expected from collector %s", n, strings.Join(used[n], ", "), notYetDeclared[n])
		default:
			t.Errorf("%s (used by %s) is neither declared by the exporter nor recorded by the pack", n, strings.Join(used[n], ", "))
		}
	}
	for n, c := range notYetDeclared {
		if used[n] == nil {
			t.Errorf("notYetDeclared lists %s (%s), which no rule uses", n, c)
		}
	}
}
