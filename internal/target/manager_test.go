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

func TestManagerCapsOpenPoolsAndEvictsLeastRecentlyUsed(t *testing.T) {
	cfg, err := config.Parse("m.yml", []byte("max_targets: 2\nauth_modules:\n  m:\n    type: userpass\n    userpass: {username: u, password: p}\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(cfg, Configured{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer m.Close()
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
	if strings.Join(names, ",") != "db-b:5432/x auth_module=m,db-c:5432/x auth_module=m" {
		t.Fatalf("open targets %v, want db-b and db-c (db-a was least recently used)", names)
	}
	if _, err := a.Pool.Acquire(t.Context(), ""); !errors.Is(err, ErrPoolClosed) {
		t.Fatalf("evicted target's pool still usable: %v", err)
	}
	// The same address and module gives the same target, not a new pool.
	again, _ := m.Probe("db-b:5432/x", "m")
	if again != b {
		t.Fatal("a second probe of the same target opened another pool")
	}
}

func TestAddressTargets(t *testing.T) {
	am := config.AuthModule{Type: "userpass", UserPass: config.UserPass{Username: "mon", Password: "pw"}, Options: map[string]string{"sslmode": "require"}}
	cc, err := addressConn("db1:6432/app?sslmode=disable", am)
	if err != nil {
		t.Fatal(err)
	}
	if cc.Host != "db1" || cc.Port != 6432 || cc.Database != "app" || cc.User != "mon" || cc.Password != "pw" {
		t.Fatalf("%+v", cc.Config)
	}
	for addr, want := range map[string]string{
		"mon:pw@db1/app":    "carries credentials",
		"db1/app?host=evil": `option "host"`,
		"http://db1/app":    "is not an address",
	} {
		_, err := addressConn(addr, am)
		var bad *BadRequestError
		if !errors.As(err, &bad) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want a bad request containing %q", addr, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "pw@") {
			t.Errorf("%q: credentials echoed: %v", addr, err)
		}
	}
}

func TestProbeAddressCannotWeakenTheModulesTLS(t *testing.T) {
	am := config.AuthModule{Type: "userpass", UserPass: config.UserPass{Username: "mon", Password: "pw"},
		Options: map[string]string{"sslmode": "require"}}
	cc, err := addressConn("db1:5432/app?sslmode=disable", am)
	if err != nil {
		t.Fatal(err)
	}
	if cc.TLSConfig == nil {
		t.Fatal("sslmode=disable in the probe address overrode the auth module's sslmode=require")
	}
}
