package mixin

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"unknown top-level key", "selector: x\n", `m.yml:1: unknown key "selector" in the top level; check its spelling against examples/mixin.yml`},
		{"unknown nested key", "slo:\n  availability: 0.99\n  avail: 1\n", `m.yml:3: unknown key "avail" in slo`},
		{"unknown alert key", "alerts:\n  PostgresDown:\n    treshold: 3\n", `m.yml:3: unknown key "treshold" in an alert's settings`},
		{"bad duration", "alerts:\n  PostgresDown:\n    for: 5 minutes\n", `m.yml:3: "5 minutes" is not a duration`},
		{"bad threshold", "alerts:\n  PostgresConnectionsHigh:\n    warning: lots\n", `m.yml:3: "lots" is not a number or a duration`},
		{"unknown alert", "alerts:\n  PostgresDwn:\n    for: 1m\n", `m.yml:2: alerts: there is no alert named PostgresDwn`},
		{"tier the alert lacks", "alerts:\n  PostgresDown:\n    warning: 1\n", `m.yml:3: alerts.PostgresDown.warning: PostgresDown has no warning threshold`},
		{"guard the alert lacks", "alerts:\n  PostgresDown:\n    min: 1\n", `m.yml:3: alerts.PostgresDown.min: PostgresDown has no guard threshold`},
		{"bad selector", "selectors:\n  postgres: job=postgres\n", `m.yml:2: selectors.postgres "job=postgres"`},
		{"bad backup selector", "selectors:\n  postgres: 'job=\"db\"'\n  backup: job=exporter\n", `m.yml:3: selectors.backup "job=exporter"`},
		{"objective out of range", "slo:\n  availability: 99.9\n", `m.yml:2: slo.availability 99.9 is not between 0 and 1`},
		{"bad label", "cluster_label: my-cluster\n", `m.yml:1: cluster_label "my-cluster" is not a label name`},
		{"empty aggregation", "aggregation_labels: []\n", `m.yml:1: aggregation_labels is empty`},
		{"bad runbook url", "runbook_url: docs/runbooks\n", `m.yml:1: runbook_url "docs/runbooks" is not an http(s) URL`},
		{"not yaml", "alerts: [\n", `m.yml:`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("m.yml", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestParseOverrides(t *testing.T) {
	c, err := Parse("m.yml", []byte(`selectors:
  postgres: 'job="db", env="prod"'
  backup: 'env="prod"'
alerts:
  PostgresConnectionsHigh:
    for: 10m
    warning: 0.75
  PostgresFullBackupTooOld:
    warning: 26h
  PostgresDown:
    disabled: true
`))
	if err != nil {
		t.Fatal(err)
	}
	files := c.Rules()
	var sawConn, sawBackup bool
	for _, g := range files[alertsFile].Groups {
		for _, r := range g.Rules {
			if r.Alert == "PostgresDown" {
				t.Error("PostgresDown is disabled but rendered")
			}
			if r.Alert == "PostgresConnectionsHigh" && r.Labels["severity"] == "warning" {
				sawConn = true
				if r.Expr != "instance:pg_connections:ratio >= 0.75" || r.For != "10m" {
					t.Errorf("PostgresConnectionsHigh warning: expr %q for %q", r.Expr, r.For)
				}
			}
		}
	}
	for _, g := range files["postgres-backup.yml"].Groups {
		for _, r := range g.Rules {
			if r.Alert == "PostgresFullBackupTooOld" && r.Labels["severity"] == "warning" {
				sawBackup = true
				if !strings.Contains(r.Expr, `{env="prod", type="full"}`) || !strings.HasSuffix(r.Expr, ">= 93600") {
					t.Errorf("PostgresFullBackupTooOld: %q", r.Expr)
				}
			}
		}
	}
	if !sawConn || !sawBackup {
		t.Fatal("overridden alerts not rendered")
	}
}

func TestEmptyFileIsDefaults(t *testing.T) {
	c, err := Parse("m.yml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.SLO.Availability != 0.999 || c.Selectors.Postgres != `job="postgres"` {
		t.Fatalf("empty file did not give the defaults: %+v", c)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.yml"))
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("alerts:\n  PostgresDown:\n    for: 1m\n"))
	f.Add([]byte("slo: {availability: 0.5}\n"))
	f.Add([]byte("selectors: {postgres: 'a=\"b\\\\\"c\"'}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.yml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.yml") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		_ = c.Rules()
	})
}

// TestCapacityPlan proves a plan figure adds an absolute comparison to a
// forecast, its description names it, and an alert without a plan rejects
// the key.
func TestCapacityPlan(t *testing.T) {
	c, err := Parse("m.yml", []byte("alerts:\n  PostgresConnectionCapacityForecast:\n    plan: 120\n"))
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, g := range c.Rules()[alertsFile].Groups {
		for _, r := range g.Rules {
			switch r.Alert {
			case "PostgresConnectionCapacityForecast":
				found = true
				if !strings.HasSuffix(r.Expr, "\nor\npredict_linear(pg_connections_in_use{job=\"postgres\"}[1d], 604800) >= 120") ||
					!strings.Contains(r.Annotations["description"], "or the plan of 120 sessions") {
					t.Errorf("with a plan: %q\n%q", r.Expr, r.Annotations["description"])
				}
			case "PostgresStorageCapacityForecast":
				if strings.Contains(r.Expr, "\nor\n") {
					t.Errorf("a plan for one forecast reached another: %q", r.Expr)
				}
			}
		}
	}
	if !found {
		t.Fatal("PostgresConnectionCapacityForecast not rendered")
	}
	_, err = Parse("m.yml", []byte("alerts:\n  PostgresDeadTuplesHigh:\n    plan: 5\n"))
	if err == nil || !strings.Contains(err.Error(), "has no plan threshold") {
		t.Errorf("plan on an alert without one: %v", err)
	}
}
