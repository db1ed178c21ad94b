package mixin

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/promtest"
)

// committedRules reads rules/*.yml as Prometheus would.
func committedRules(t *testing.T) map[string]File {
	t.Helper()
	out := map[string]File{}
	for name, data := range readDir(t, filepath.Join(repoRoot, "rules")) {
		var f File
		if err := yaml.Unmarshal(data, &f); err != nil {
			t.Fatalf("rules/%s: %v", name, err)
		}
		out[name] = f
	}
	if len(out) == 0 {
		t.Fatal("no rule files in rules/")
	}
	return out
}

var (
	alertName     = regexp.MustCompile(`^(Postgres|PgBouncer)[A-Z][A-Za-z0-9]*$`)
	recordingName = regexp.MustCompile(`^[a-z][a-z_]*:[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$`)
)

// TestConventions checks what the mixin conventions ask of every rule.
func TestConventions(t *testing.T) {
	severities := map[string]map[string]bool{}
	for file, f := range committedRules(t) {
		for _, g := range f.Groups {
			if len(g.Rules) > 20 {
				t.Errorf("%s group %s has %d rules, more than 20", file, g.Name, len(g.Rules))
			}
			for _, r := range g.Rules {
				if r.Record != "" {
					if !recordingName.MatchString(r.Record) {
						t.Errorf("recording rule %s is not named level:metric:operations", r.Record)
					}
					continue
				}
				checkAlert(t, r)
				if severities[r.Alert] == nil {
					severities[r.Alert] = map[string]bool{}
				}
				if severities[r.Alert][r.Labels["severity"]] {
					t.Errorf("%s has two rules of severity %s", r.Alert, r.Labels["severity"])
				}
				severities[r.Alert][r.Labels["severity"]] = true
			}
		}
	}
	for _, name := range AlertNames() {
		if severities[name] == nil {
			t.Errorf("alert %s is defined but not in rules/", name)
		}
	}
}

func checkAlert(t *testing.T, r Rule) {
	t.Helper()
	n := r.Alert
	if !alertName.MatchString(n) || len(n) > 40 {
		t.Errorf("alert %q is not CamelCase with a Postgres/PgBouncer prefix and at most 40 characters", n)
	}
	switch r.Labels["severity"] {
	case "critical", "warning", "info":
	default:
		t.Errorf("%s: severity %q is not critical, warning or info", n, r.Labels["severity"])
	}
	s := r.Annotations["summary"]
	if s == "" || strings.Contains(s, "{{") || !strings.HasSuffix(s, ".") {
		t.Errorf("%s: summary %q must be plain text ending with a period", n, s)
	}
	d := r.Annotations["description"]
	if !strings.Contains(d, "{{ $labels.") || !strings.Contains(d, "$value") {
		t.Errorf("%s: description %q must name the object ({{ $labels.x }}) and the value", n, d)
	}
	u := r.Annotations["runbook_url"]
	if !strings.HasSuffix(u, "/"+n+".md") {
		t.Errorf("%s: runbook_url %q does not end in /%s.md", n, u, n)
	}
	if _, err := os.Stat(filepath.Join(repoRoot, "docs", "runbooks", n+".md")); err != nil {
		t.Errorf("%s: no runbook: %v", n, err)
	}
	if len(r.Annotations) != 3 {
		t.Errorf("%s: annotations %v, want summary, description and runbook_url", n, r.Annotations)
	}
}

// checkRules has promtool check rule files, lint warnings fatal.
func checkRules(t *testing.T, promtool string, files []string) {
	t.Helper()
	out, err := exec.Command(promtool, append([]string{"check", "rules", "--lint=all", "--lint-fatal"}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}

// TestPromtoolLint runs promtool's own checks, lint warnings included, on the
// committed rules with each stack's parser.
func TestPromtoolLint(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(repoRoot, "rules", "*.yml"))
	if len(files) == 0 {
		t.Fatal("no rule files in rules/")
	}
	promtest.EachPromtool(t, func(t *testing.T, promtool string) { checkRules(t, promtool, files) })
}
