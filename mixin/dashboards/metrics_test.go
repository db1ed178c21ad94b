package dashboards

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/pghardening/pg_hardening_exporter/internal/metricsdoc"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/namestest"
	"github.com/pghardening/pg_hardening_exporter/mixin/names"
)

const rulesDir = "../../rules"

type ruleFile struct {
	Groups []struct {
		Rules []struct {
			Record string `yaml:"record"`
			Alert  string `yaml:"alert"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// rulePack reads rules/*.yml; ok is false when the directory does not exist.
func rulePack(t *testing.T) (records, alerts map[string]bool, ok bool) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(rulesDir, "*.yml"))
	if len(files) == 0 {
		return nil, nil, false
	}
	records, alerts = map[string]bool{}, map[string]bool{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rf ruleFile
		if err := yaml.Unmarshal(raw, &rf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					records[r.Record] = true
				}
				if r.Alert != "" {
					alerts[r.Alert] = true
				}
			}
		}
	}
	return records, alerts, true
}

// usedNames are the metric names of every query and variable, by name.
func usedNames(t *testing.T) map[string][]string {
	t.Helper()
	used := map[string][]string{}
	add := func(where, expr string) {
		sels, err := selectors(expr)
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		for _, s := range sels {
			used[s.Metric] = append(used[s.Metric], where)
		}
	}
	for _, b := range boards(Defaults()) {
		for _, p := range b.panels() {
			for _, q := range p.Queries {
				add(b.UID+"/"+p.Title, q.Expr)
			}
		}
	}
	for _, v := range []string{names.Up, names.NumBackends, names.RemQueueCapacity} {
		used[v] = append(used[v], "variables")
	}
	return used
}

// TestMetricsCatalogued checks every name the dashboards read is in the
// catalogue (package names), whose own test checks each name against what
// the exporter declares and the rule pack records.
func TestMetricsCatalogued(t *testing.T) {
	cat := namestest.Read(t)
	used := usedNames(t)
	var sorted []string
	for n := range used {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, n := range sorted {
		if !cat.Holds(n) {
			t.Errorf("%s (read by %s) is not in the catalogue, package names", n, used[n][0])
		}
	}
}

// notPerDatabase are families whose datname label does not name the
// database a series is about (empty for cluster-wide collectors), so the
// database variable would hide them.
var notPerDatabase = map[string]bool{names.CollectorSuccess: true}

// TestDatabaseFilter checks that every selector of a family with a datname
// label filters by the database variable.
func TestDatabaseFilter(t *testing.T) {
	labels := map[string][]string{}
	for _, m := range metricsdoc.All() {
		labels[m.Name] = m.Labels
	}
	checked := 0
	for _, b := range boards(Defaults()) {
		for _, p := range b.panels() {
			for _, q := range p.Queries {
				sels, err := selectors(q.Expr)
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range sels {
					name := s.Metric
					for _, suf := range []string{"_bucket", "_count", "_sum"} {
						if base, ok := strings.CutSuffix(name, suf); ok && labels[base] != nil {
							name = base
						}
					}
					hasDatname := false
					for _, l := range labels[name] {
						hasDatname = hasDatname || l == "datname"
					}
					if !hasDatname || notPerDatabase[name] {
						continue
					}
					checked++
					if !strings.Contains(s.Matchers, `datname=~"$database"`) {
						t.Errorf("%s / %s: %s has a datname label but ignores the database variable", b.UID, p.Title, s.Metric)
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no selector of a per-database family was checked")
	}
}
