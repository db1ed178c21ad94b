package target

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
)

func mustParse(t *testing.T, dsn string) *pgx.ConnConfig {
	t.Helper()
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

// Connection settings that differ only in the database name one server and
// user; anything else that reaches the server (password, user, host, port,
// TLS, run-time parameters, timeouts, session attributes) does not.
func TestSameServerDiffersOnlyInDatabase(t *testing.T) {
	base := "postgres://mon:secret@db1:5432/app?sslmode=disable&connect_timeout=5"
	for _, c := range []struct {
		other string
		same  bool
	}{
		{"postgres://mon:secret@db1:5432/billing?sslmode=disable&connect_timeout=5", true},
		{"host=db1 port=5432 user=mon password=secret dbname=other sslmode=disable connect_timeout=5", true},
		{"postgres://mon:secret@db1:5432?sslmode=disable&connect_timeout=5", true},
		{"postgres://mon:rotated@db1:5432/app?sslmode=disable&connect_timeout=5", false},
		{"postgres://other:secret@db1:5432/app?sslmode=disable&connect_timeout=5", false},
		{"postgres://mon:secret@db2:5432/app?sslmode=disable&connect_timeout=5", false},
		{"postgres://mon:secret@db1:5433/app?sslmode=disable&connect_timeout=5", false},
		{"postgres://mon:secret@db1:5432/app?sslmode=require&connect_timeout=5", false},
		{"postgres://mon:secret@db1:5432/app?sslmode=disable&connect_timeout=6", false},
		{"postgres://mon:secret@db1:5432/app?sslmode=disable&connect_timeout=5&search_path=x", false},
		{"postgres://mon:secret@db1:5432/app?sslmode=disable&connect_timeout=5&target_session_attrs=read-write", false},
		{"postgres://mon:secret@db1:5432,db3:5432/app?sslmode=disable&connect_timeout=5", false},
	} {
		if got := SameServer(mustParse(t, base), mustParse(t, c.other)); got != c.same {
			t.Errorf("SameServer(%q, %q) = %v, want %v", base, c.other, got, c.same)
		}
	}
}

// TLS settings are read from files for every parsed string: equal files give
// the same server, another root certificate does not.
func TestSameServerComparesTLSFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.pem", "b.pem"} {
		if err := os.WriteFile(filepath.Join(dir, name), selfSignedPEM(t, name), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	dsn := func(db, ca string) string {
		return "postgres://mon@db1/" + db + "?sslmode=verify-full&sslrootcert=" + filepath.Join(dir, ca)
	}
	if !SameServer(mustParse(t, dsn("a", "a.pem")), mustParse(t, dsn("b", "a.pem"))) {
		t.Error("the same root certificate, read twice, counts as another server")
	}
	if SameServer(mustParse(t, dsn("a", "a.pem")), mustParse(t, dsn("a", "b.pem"))) {
		t.Error("another root certificate counts as the same server")
	}
}

func selfSignedPEM(t *testing.T, cn string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// A Manager's targets share a pool when they differ only in the database; the
// pool closes with its last target; a changed password opens another pool.
func TestPoolsAreSharedAndCounted(t *testing.T) {
	cfg, err := config.Parse("m.yml", []byte("connection: {max_connections: 2}\n"))
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	pools := &Pools{}
	a := newTarget("a", mustParse(t, "postgres://mon:p@db1/a"), cfg, quiet, pools)
	b := newTarget("b", mustParse(t, "postgres://mon:p@db1/b"), cfg, quiet, pools)
	c := newTarget("c", mustParse(t, "postgres://mon:p2@db1/a"), cfg, quiet, pools)
	if a.Pool != b.Pool {
		t.Fatal("targets that differ only in the database got two pools")
	}
	if a.Pool == c.Pool {
		t.Fatal("targets with different passwords share a pool")
	}
	if a.db != "a" || b.db != "b" {
		t.Fatalf("own databases %q %q, want a b", a.db, b.db)
	}
	list := pools.List()
	if len(list) != 2 || list[0].Targets != 2 || list[1].Targets != 1 || list[0].Server != "mon@db1:5432" || list[1].Server != "mon@db1:5432 #2" {
		t.Fatalf("pools %+v, want mon@db1:5432 with 2 targets and mon@db1:5432 #2 with 1", list)
	}
	a.Close()
	a.Close() // a second Close must not let go of the pool again
	if _, err := b.Pool.Acquire(t.Context(), ""); err != ErrNoDatabase {
		t.Fatalf("pool closed with a target still using it, or accepted no database: %v", err)
	}
	if len(pools.List()) != 2 || pools.List()[0].Targets != 1 {
		t.Fatalf("pools after closing one of two targets: %+v", pools.List())
	}
	b.Close()
	if _, err := b.Pool.Acquire(t.Context(), "b"); err != ErrPoolClosed {
		t.Fatalf("pool still open after its last target closed: %v", err)
	}
	if list := pools.List(); len(list) != 1 || list[0].Pool != c.Pool {
		t.Fatalf("open pools %+v, want only c's", list)
	}
	c.Close()
}

// The default target, configured targets and probe addresses that differ
// only in the database share one pool; a configured target with another
// user does not, and the pool outlives a reload only for the default target.
func TestManagerSharesPoolsAcrossKindsOfTargets(t *testing.T) {
	cfg, err := config.Parse("m.yml", []byte(`targets:
  - {name: b, dsn: "postgres://mon:p@db1:5432/b?sslmode=disable"}
  - {name: c, dsn: "postgres://mon:p@db1:5432/c?sslmode=disable"}
  - {name: other, dsn: "postgres://other:p@db1:5432/b?sslmode=disable"}
auth_modules:
  m:
    type: userpass
    userpass: {username: mon, password: p}
    options: {sslmode: disable}
    allowed_targets: {hosts: [db1]}
`))
	if err != nil {
		t.Fatal(err)
	}
	configured, err := Prepare(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(cfg, configured, mustParse(t, "postgres://mon:p@db1:5432/a?sslmode=disable"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer m.Close()
	var ts []*Target
	for _, p := range [][2]string{{"b", ""}, {"c", ""}, {"db1:5432/d", "m"}, {"other", ""}} {
		tg, err := m.Probe(p[0], p[1])
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, tg)
	}
	def := m.Default()
	for _, tg := range ts[:3] {
		if tg.Pool != def.Pool {
			t.Errorf("target %s has a pool of its own; it differs from the default target only in the database", tg.Name)
		}
	}
	if ts[3].Pool == def.Pool {
		t.Error("a target with another user shares the default target's pool")
	}
	got := map[string]int{}
	for _, p := range m.Pools() {
		got[p.Server] = p.Targets
	}
	if want := map[string]int{"mon@db1:5432": 4, "other@db1:5432": 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pools %v, want %v", got, want)
	}
	m.Reload(cfg, configured)
	if got := m.Pools(); len(got) != 1 || got[0].Pool != def.Pool || got[0].Targets != 1 {
		t.Fatalf("after a reload the pools are %+v, want only the default target's, used by it alone", got)
	}
}
