package main

import (
	"strings"
	"testing"
)

// check-config validates the exporter's, the receiver's and the mixin's
// configurations in one run, reports on each, and fails if any is invalid.
func TestCheckConfigCommand(t *testing.T) {
	clearDSNEnv(t)
	exp := writeFile(t, "exporter.yml", "connection:\n  max_connections: 2\n")
	rem := writeFile(t, "remediate.yml", strings.Replace(remediateTestConfig, "%MODE%", "dry-run", 1))
	mix := writeFile(t, "mixin.yml", "selectors:\n  postgres: 'job=\"pg\"'\n")

	code, stdout, stderr := runArgs(t, "check-config", "--config.file="+exp, "--remediate.config="+rem, "--mixin.config="+mix)
	if code != 0 {
		t.Fatalf("exit %d for valid files:\n%s", code, stderr)
	}
	for _, want := range []string{"exporter configuration valid: " + exp, "remediation configuration OK: " + rem + " (mode dry-run, 1 targets, 1 rules)", "mixin configuration OK: " + mix} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}

	// Both other files broken: each is reported with its file and line, and
	// the exporter's is still checked.
	badRem := writeFile(t, "remediate.yml", "mode: enforce\nrules:\n  - alertname: X\n    action: drop_database\n")
	badMix := writeFile(t, "mixin.yml", "selectors:\n  postgres: 'job=postgres'\n")
	code, stdout, stderr = runArgs(t, "check-config", "--config.file="+exp, "--remediate.config="+badRem, "--mixin.config="+badMix)
	if code != 1 {
		t.Fatalf("exit %d for two invalid files, want 1", code)
	}
	if !strings.Contains(stdout, "exporter configuration valid") {
		t.Errorf("the exporter's configuration was not reported:\n%s", stdout)
	}
	for _, want := range []string{badRem + ":", "drop_database", badMix + ":2:"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("errors lack %q:\n%s", want, stderr)
		}
	}
}

// check-config parses every target's connection string, as the exporter
// does at start, and names the file and line of one that does not parse.
func TestCheckConfigRefusesABadTarget(t *testing.T) {
	clearDSNEnv(t)
	bad := writeFile(t, "exporter.yml", "targets:\n  - name: ok\n    dsn: postgres://u@db:5432/x\n  - name: broken\n    dsn: postgres://u@db:notaport/x\n")
	code, stdout, stderr := runArgs(t, "check-config", "--config.file="+bad)
	if code != 1 || !strings.Contains(stderr, bad+`:4: target "broken" dsn is not a valid PostgreSQL connection string`) {
		t.Fatalf("exit %d, want 1 naming %s:4:\n%s%s", code, bad, stdout, stderr)
	}
	// The exporter itself refuses it at start, before listening.
	code, _, stderr = runArgs(t, "--config.file="+bad, "--web.listen-address=127.0.0.1:0")
	if code != 1 || !strings.Contains(stderr, bad+`:4: target "broken"`) {
		t.Fatalf("start: exit %d, want 1 naming %s:4:\n%s", code, bad, stderr)
	}
}
