package dashboards

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/promtest"
)

// TestExpressionsParse hands every expression, variables substituted, to
// Prometheus's own parser through `promtool check rules` (each one as a
// recording rule), so no PromQL parser is linked into the module. Every
// stack's promtool checks them.
func TestExpressionsParse(t *testing.T) {
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []rule
	where := map[string]string{}
	for _, b := range boards(Defaults()) {
		for _, p := range b.panels() {
			for i, q := range p.Queries {
				name := fmt.Sprintf("dashboard_expr_%d", len(rules))
				where[name] = fmt.Sprintf("%s / %s / query %d", b.UID, p.Title, i)
				rules = append(rules, rule{Record: name, Expr: substitute(q.Expr, staticVars)})
			}
		}
	}
	doc := map[string]any{"groups": []any{map[string]any{"name": "dashboards", "rules": rules}}}
	raw, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "exprs.yml")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	promtest.EachPromtool(t, func(t *testing.T, promtool string) {
		out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput()
		if err != nil {
			msg := string(out)
			for name, w := range where {
				msg = strings.ReplaceAll(msg, name+" ", w+" ")
			}
			t.Fatalf("promtool rejects dashboard expressions:\n%s", msg)
		}
		if !strings.Contains(string(out), fmt.Sprintf("%d rules found", len(rules))) {
			t.Fatalf("promtool did not check all %d expressions:\n%s", len(rules), out)
		}
	})
}

// TestParseCatchesErrors makes sure a broken expression fails the check.
func TestParseCatchesErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yml")
	bad := "groups:\n- name: x\n  rules:\n  - record: x\n    expr: sum by (job (pg_up)\n"
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	promtest.EachPromtool(t, func(t *testing.T, promtool string) {
		if out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput(); err == nil {
			t.Fatalf("promtool accepted a broken expression:\n%s", out)
		}
	})
}
