package mixin

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pgbouncerExprs returns the expressions of the PgBouncer alerts by alert and
// severity.
func pgbouncerExprs(t *testing.T, c *Config) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, g := range c.Rules()["pgbouncer-alerts.yml"].Groups {
		for _, r := range g.Rules {
			out[r.Alert+"/"+r.Labels["severity"]] = r.Expr
		}
	}
	if len(out) == 0 {
		t.Fatal("no PgBouncer alerts rendered")
	}
	return out
}

// TestPgBouncerSelector proves the default PgBouncer rules match the bare
// metric names, whatever job serves them, and a configured selector narrows
// them.
func TestPgBouncerSelector(t *testing.T) {
	want := map[string]string{
		"PgBouncerDown/critical":           "pgbouncer_up == 0",
		"PgBouncerClientsWaiting/warning":  "max by (job, instance, database, user) (pgbouncer_pools_client_maxwait_seconds) >= 1",
		"PgBouncerClientsWaiting/critical": "max by (job, instance, database, user) (pgbouncer_pools_client_maxwait_seconds) >= 10",
	}
	got := pgbouncerExprs(t, Defaults())
	for k, w := range want {
		if got[k] != w {
			t.Errorf("default %s: got %q, want %q", k, got[k], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("default PgBouncer alerts %v, want %v", got, want)
	}

	c, err := Parse("m.yml", []byte("selectors:\n  pgbouncer: 'job=\"pgbouncer\", env=\"prod\"'\n"))
	if err != nil {
		t.Fatal(err)
	}
	for k, e := range pgbouncerExprs(t, c) {
		if !strings.Contains(e, `{job="pgbouncer", env="prod"}`) {
			t.Errorf("%s with a pgbouncer selector: %q does not carry it", k, e)
		}
	}
}

// TestEmptySelectorsPassPromtool renders the whole rule pack with no matchers
// at all and has promtool check it: every selector must still be valid
// PromQL, including those that add their own matchers (type="full").
func TestEmptySelectorsPassPromtool(t *testing.T) {
	bin := promtool(t)
	c, err := Parse("m.yml", []byte("selectors: {postgres: '', pgbouncer: ''}\n"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := c.Write(dir); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "rules", "*.yml"))
	if len(files) == 0 {
		t.Fatal("no rule files rendered")
	}
	var sawBare, sawExtra bool
	for _, f := range c.Rules() {
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				sawBare = sawBare || strings.Contains(r.Expr, "pg_up ") || strings.HasPrefix(r.Expr, "pgbouncer_up ")
				sawExtra = sawExtra || strings.Contains(r.Expr, `{type="full"}`)
			}
		}
	}
	if !sawBare || !sawExtra {
		t.Fatalf("empty selectors did not render bare names (%v) and lone extra matchers (%v)", sawBare, sawExtra)
	}
	out, err := exec.Command(bin, append([]string{"check", "rules", "--lint=all", "--lint-fatal"}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}
