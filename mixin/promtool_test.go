package mixin

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/promtest"
)

// unitTestFile is the part of a promtool test file the coverage check reads.
type unitTestFile struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		AlertRuleTests []struct {
			Alertname string           `yaml:"alertname"`
			ExpAlerts []map[string]any `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
		PromQLExprTests []struct {
			Expr string `yaml:"expr"`
		} `yaml:"promql_expr_test"`
	} `yaml:"tests"`
}

var testDir = filepath.Join(repoRoot, "promtool-tests")

// TestPromtoolUnitTests runs the hand-written promtool tests against the
// committed rules with every stack's promtool: Debian's 2.42 and the current
// 3.x, which reads some PromQL differently (left-open range selectors).
func TestPromtoolUnitTests(t *testing.T) {
	promtest.EachPromtool(t, func(t *testing.T, promtool string) {
		runPromtoolTests(t, promtool, testDir)
	})
}

// TestPromtoolNativeHistogramTests runs promtool-tests/native/, whose input
// series are native histograms: promtool reads them from 3.x on, so only the
// current stack's promtool runs them.
func TestPromtoolNativeHistogramTests(t *testing.T) {
	runPromtoolTests(t, promtest.Current().Promtool(t), filepath.Join(testDir, "native"))
}

// runPromtoolTests runs "promtool test rules" on every test file in dir.
func runPromtoolTests(t *testing.T, promtool, dir string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.yml"))
	if len(files) == 0 {
		t.Fatalf("no promtool tests in %s", dir)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	cmd := exec.Command(promtool, append([]string{"test", "rules"}, names...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// TestPromtoolCoverage proves every alert has a case where it fires and one
// where it stays silent, and every recording rule is evaluated by a
// promql_expr_test.
func TestPromtoolCoverage(t *testing.T) {
	firing, silent, exprs := map[string]int{}, map[string]int{}, []string{}
	for name, data := range readDir(t, testDir) {
		var f unitTestFile
		if err := yaml.Unmarshal(data, &f); err != nil {
			t.Fatalf("promtool-tests/%s: %v", name, err)
		}
		for _, rf := range f.RuleFiles {
			if !strings.HasPrefix(rf, "../rules/") {
				t.Errorf("promtool-tests/%s: rule file %s is not under ../rules/", name, rf)
			}
		}
		for _, tc := range f.Tests {
			for _, a := range tc.AlertRuleTests {
				if len(a.ExpAlerts) > 0 {
					firing[a.Alertname]++
				} else {
					silent[a.Alertname]++
				}
			}
			for _, e := range tc.PromQLExprTests {
				exprs = append(exprs, e.Expr)
			}
		}
	}
	alerts, records := map[string]bool{}, map[string]bool{}
	for _, f := range committedRules(t) {
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				if r.Alert != "" {
					alerts[r.Alert] = true
				} else {
					records[r.Record] = true
				}
			}
		}
	}
	for a := range alerts {
		if firing[a] == 0 {
			t.Errorf("%s has no promtool case where it fires", a)
		}
		if silent[a] == 0 {
			t.Errorf("%s has no promtool case where it stays silent", a)
		}
	}
	for a := range firing {
		if !alerts[a] {
			t.Errorf("promtool tests check %s, which is not in rules/", a)
		}
	}
	for r := range records {
		found := false
		for _, e := range exprs {
			for _, n := range MetricNames(e) {
				found = found || n == r
			}
		}
		if !found {
			t.Errorf("recording rule %s has no promql_expr_test", r)
		}
	}
}
