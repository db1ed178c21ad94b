package names_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/namestest"
	"github.com/pghardening/pg_hardening_exporter/mixin"
	"github.com/pghardening/pg_hardening_exporter/mixin/names"
)

// undeclared lists the catalogued names the exporter does not declare, with
// where each comes from: Prometheus itself, or a collector still being
// written (name it). The test fails for a name listed here once the exporter
// declares it, so the list only shrinks. Recording rules are not listed: the
// test checks them against the rules the generator writes.
var undeclared = map[string]string{
	names.PrometheusUp:     "made by Prometheus for every scrape",
	names.PrometheusAlerts: "made by Prometheus for every alerting rule",
}

// TestCatalogue checks every catalogued name: a metric must be declared by
// the exporter or listed in undeclared with its source; a recording rule
// (level:metric:operations) must be one the generator writes, or the family
// of the SLI rules it writes per window. Every rule the generator records
// must be catalogued in turn.
func TestCatalogue(t *testing.T) {
	cat := namestest.Read(t)
	families := namestest.Declared()
	recorded := map[string]bool{}
	for _, f := range mixin.Defaults().Rules() {
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					recorded[r.Record] = true
				}
			}
		}
	}
	if len(recorded) == 0 {
		t.Fatal("the generator records nothing")
	}
	recordedFamily := func(v string) bool {
		for r := range recorded {
			if cat.Family(r) == v {
				return true
			}
		}
		return false
	}
	for _, v := range slices.Sorted(maps.Keys(cat.Names)) {
		id := cat.Names[v]
		why, listed := undeclared[v]
		switch {
		case strings.Contains(v, ":"):
			if !recorded[v] && !recordedFamily(v) {
				t.Errorf("%s = %q is not a recording rule of the pack", id, v)
			}
			if listed {
				t.Errorf("%s is a recording rule; delete it from undeclared", v)
			}
		case families.Has(v):
			if listed {
				t.Errorf("%s is declared now (listed as %q); delete it from undeclared", v, why)
			}
		case listed:
			t.Logf("%s = %q is not declared by the exporter: %s", id, v, why)
		default:
			t.Errorf("%s = %q is neither declared by the exporter nor listed in undeclared with its source", id, v)
		}
	}
	for v := range undeclared {
		if _, ok := cat.Names[v]; !ok {
			t.Errorf("undeclared lists %s, which is not catalogued", v)
		}
	}
	for r := range recorded {
		if !cat.Holds(r) {
			t.Errorf("the generator records %s, which is not catalogued", r)
		}
	}
}

// TestEveryNameIsRead checks that the catalogue holds only names the rule
// generator or the dashboards read, so a name no longer used is removed.
func TestEveryNameIsRead(t *testing.T) {
	cat := namestest.Read(t)
	used := map[string]bool{}
	for _, dir := range []string{".", "..", filepath.Join("..", "dashboards")} {
		paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range paths {
			if strings.HasSuffix(p, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), p, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.SelectorExpr:
					if x, ok := n.X.(*ast.Ident); ok && x.Name == "names" {
						used[n.Sel.Name] = true
					}
				case *ast.ValueSpec:
					// A constant defined from another (StmtBucket from
					// StmtDuration) reads it.
					for _, v := range n.Values {
						ast.Inspect(v, func(m ast.Node) bool {
							if id, ok := m.(*ast.Ident); ok && dir == "." {
								used[id.Name] = true
							}
							return true
						})
					}
				}
				return true
			})
		}
	}
	for v, id := range cat.Names {
		if !used[id] {
			t.Errorf("%s = %q is read by neither the rules nor the dashboards; remove it", id, v)
		}
	}
}
