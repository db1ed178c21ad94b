package dashboards

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/promtest"
	"github.com/pghardening/pg_hardening_exporter/mixin/names"
)

// labelValuesQuery is the form Grafana's Prometheus data source reads as
// label_values(selector, label): the selector (optional) goes to the
// Prometheus API as match[], the label names the values to offer.
var labelValuesQuery = regexp.MustCompile(`^label_values\((?:(.+),\s*)?([a-zA-Z_$][a-zA-Z0-9_]*)\)\s*$`)

// parseLabelValues splits a variable query into its selector and label.
func parseLabelValues(query string) (match, label string, ok bool) {
	m := labelValuesQuery.FindStringSubmatch(query)
	if m == nil || m[1] == "" {
		return "", "", false
	}
	return m[1], m[2], true
}

// variableQueries returns every query variable of the rendered dashboards,
// keyed "uid/name".
func variableQueries(t *testing.T) map[string]string {
	t.Helper()
	files, err := Render(Defaults())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, raw := range files {
		var d jsonDashboard
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatal(err)
		}
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			q, ok := v.Query.(string)
			if !ok {
				t.Fatalf("%s/%s: query is %T, want a string", d.UID, v.Name, v.Query)
			}
			out[d.UID+"/"+v.Name] = q
		}
	}
	return out
}

// TestVariableQueriesParse checks every query variable has Grafana's
// label_values(selector, label) form and that Prometheus's parser (through
// promtool, every stack's) accepts its selector, variables substituted.
func TestVariableQueriesParse(t *testing.T) {
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []rule
	for key, q := range variableQueries(t) {
		match, _, ok := parseLabelValues(q)
		if !ok {
			t.Errorf("%s: %q is not label_values(selector, label)", key, q)
			continue
		}
		rules = append(rules, rule{Record: fmt.Sprintf("dashboard_variable_%d", len(rules)), Expr: substitute(match, staticVars)})
	}
	if len(rules) == 0 {
		t.Fatal("no query variable found")
	}
	raw, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "variables", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "variables.yml")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	promtest.EachPromtool(t, func(t *testing.T, promtool string) {
		out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput()
		if err != nil {
			t.Fatalf("promtool rejects variable selectors:\n%s\n%s", out, raw)
		}
		if !strings.Contains(string(out), fmt.Sprintf("%d rules found", len(rules))) {
			t.Fatalf("promtool did not check all %d selectors:\n%s", len(rules), out)
		}
	})
}

// TestVariablesOfferBothSetups pins what the job and instance variables read:
// pg_up, where an exporter scrapes a server, and pg_exporter_build_info,
// which every exporter serves on its own /metrics, so beside /probe the
// exporter's own job (PgBouncers, backup sources, pools) can be chosen too.
func TestVariablesOfferBothSetups(t *testing.T) {
	for key, q := range variableQueries(t) {
		name := key[strings.LastIndex(key, "/")+1:]
		if strings.HasPrefix(key, "pg-remediation/") || (name != "job" && name != "instance") {
			continue
		}
		match, label, ok := parseLabelValues(q)
		if !ok || label != name {
			t.Errorf("%s: %q is not label_values(selector, %s)", key, q, name)
			continue
		}
		m := regexp.MustCompile(`__name__=~"([^"]*)"`).FindStringSubmatch(match)
		if m == nil {
			t.Errorf("%s: %q has no __name__=~ matcher", key, match)
			continue
		}
		selected := regexp.MustCompile("^(?:" + m[1] + ")$")
		for _, family := range []string{names.Up, names.ExporterBuildInfo} {
			if !selected.MatchString(family) {
				t.Errorf("%s: %q does not select %s", key, match, family)
			}
		}
	}
}
