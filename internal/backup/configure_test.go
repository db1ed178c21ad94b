package backup

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
)

// A reload keeps the cached result of a source whose settings did not change,
// starts afresh for one that changed, and drops one that is gone.
func TestConfigureOnReload(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	a := config.BackupSource{Name: "a", Type: "manifest", Directory: "/x", TTL: time.Minute, Line: 3}
	b := config.BackupSource{Name: "b", Type: "manifest", Directory: "/y", TTL: time.Minute}
	c := NewCollector([]config.BackupSource{a, b}, logger)
	keptA, oldB := c.sources[0], c.sources[1]

	a.Line = 7 // moved in the file, otherwise the same
	b2 := b
	b2.Directory = "/z"
	c.Configure([]config.BackupSource{a, b2})
	if len(c.sources) != 2 || c.sources[0] != keptA {
		t.Fatal("an unchanged source lost its cache on reload")
	}
	if c.sources[1] == oldB || c.sources[1].cfg.Directory != "/z" {
		t.Fatal("a changed source kept its old settings")
	}
	c.Configure([]config.BackupSource{b2})
	if len(c.sources) != 1 || c.sources[0].cfg.Name != "b" {
		t.Fatalf("a removed source is still reported: %d sources", len(c.sources))
	}
}
