package mixin

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/pghardening/pg_hardening_exporter/mixin/dashboards"
)

// The rule pack's defaults give the dashboards' defaults, so the committed
// dashboards/ are what `mixin` writes with the default configuration.
func TestDefaultConfigGivesDefaultDashboards(t *testing.T) {
	if got, want := Defaults().Dashboards(), dashboards.Defaults(); got != want {
		t.Fatalf("dashboards drawn from the rule pack's defaults differ from the dashboards' defaults:\n got %+v\nwant %+v", got, want)
	}
	dir := t.TempDir()
	if err := Defaults().WriteDashboards(dir); err != nil {
		t.Fatal(err)
	}
	written, _ := filepath.Glob(filepath.Join(dir, "dashboards", "*.json"))
	if len(written) < 7 {
		t.Fatalf("wrote %d dashboards", len(written))
	}
	for _, p := range written {
		got, _ := os.ReadFile(p)
		want, err := os.ReadFile(filepath.Join("..", "dashboards", filepath.Base(p)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s differs from the committed dashboards/%s (%v)", p, filepath.Base(p), err)
		}
	}
}

// A threshold changed for an alert moves the line on its panel.
func TestAlertThresholdReachesDashboards(t *testing.T) {
	c, err := Parse("m.yml", []byte("alerts:\n  PostgresPoolUtilizationHigh:\n    warning: 0.6\n  PostgresDeadTuplesHigh:\n    warning: 50000\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := c.Dashboards()
	if d.PoolUtilization[0] != 0.6 || d.DeadTuples != 50000 {
		t.Fatalf("thresholds not carried over: pool %v, dead tuples %v", d.PoolUtilization, d.DeadTuples)
	}
}
