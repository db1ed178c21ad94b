package target

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
)

// Address targets are capped by max_targets, the least recently scraped
// closed first; configured targets are never closed to make room for them.
func TestManagerCapsAddressTargetsAndKeepsConfiguredOnes(t *testing.T) {
	cfg, err := config.Parse("m.yml", []byte(`max_targets: 2
targets:
  - {name: conf1, dsn: "postgres://u@conf1:5432/x"}
  - {name: conf2, dsn: "postgres://u@conf2:5432/x"}
  - {name: conf3, dsn: "postgres://u@conf3:5432/x"}
auth_modules:
  m:
    type: userpass
    userpass: {username: u, password: p}
    allowed_targets: {hosts: ["db-*"]}
`))
	if err != nil {
		t.Fatal(err)
	}
	configured, err := Prepare(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(cfg, configured, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer m.Close()
	var conf []*Target
	for _, name := range []string{"conf1", "conf2", "conf3"} {
		c, err := m.Probe(name, "")
		if err != nil {
			t.Fatal(err)
		}
		c.mu.Lock()
		c.lastUsed = time.Now().Add(-24 * time.Hour) // older than any address target
		c.mu.Unlock()
		conf = append(conf, c)
	}
	a, err := m.Probe("db-a:5432/x", "m")
	if err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	a.lastUsed = time.Now().Add(-time.Hour)
	a.mu.Unlock()
	b, _ := m.Probe("db-b:5432/x", "m")
	b.mu.Lock()
	b.lastUsed = time.Now()
	b.mu.Unlock()
	if _, err := m.Probe("db-c:5432/x", "m"); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, t := range m.Targets() {
		names = append(names, t.Name)
	}
	if strings.Join(names, ",") != "conf1,conf2,conf3,db-b:5432/x auth_module=m,db-c:5432/x auth_module=m" {
		t.Fatalf("open targets %v, want the three configured ones, db-b and db-c (db-a was the least recently used address)", names)
	}
	for _, c := range conf {
		if again, _ := m.Probe(c.Name, ""); again != c {
			t.Fatalf("configured target %s was closed to make room for address targets", c.Name)
		}
	}
	if _, err := a.Pool.Acquire(t.Context(), "x"); !errors.Is(err, ErrPoolClosed) {
		t.Fatalf("evicted target's pool still usable: %v", err)
	}
	// The same address and module gives the same target, not a new pool.
	again, _ := m.Probe("db-b:5432/x", "m")
	if again != b {
		t.Fatal("a second probe of the same target opened another pool")
	}
}
