package collector

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/target"
)

// A data directory the exporter cannot reach (it runs on another host), or
// one that belongs to another server, is said once at info level; the
// collector succeeds and emits nothing for it.
func TestDiskUnreachableIsQuiet(t *testing.T) {
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "PG_VERSION"), []byte("9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{filepath.Join(t.TempDir(), "not-here"), other} {
		var logs bytes.Buffer
		c := &diskCollector{logger: slog.New(slog.NewTextHandler(&logs, nil))}
		s := &Scrape{Target: &target.Target{Name: "remote"}, Facts: &target.Facts{VersionNum: 170000, Settings: map[string]string{"data_directory": dir}}}
		ch := make(chan prometheus.Metric, 10)
		for i := 0; i < 3; i++ {
			if err := c.Update(context.Background(), s, ch); err != nil {
				t.Fatalf("%s: %v", dir, err)
			}
		}
		if len(ch) != 0 {
			t.Errorf("%s: %d metrics emitted for an unreachable data directory", dir, len(ch))
		}
		if n := strings.Count(logs.String(), "level=INFO"); n != 1 || strings.Count(logs.String(), "\n") != 1 {
			t.Errorf("%s: want one info line, got:\n%s", dir, logs.String())
		}
	}
}
