package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/exporter"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
)

// BenchmarkProbeDatabases times /probe scrapes of a server with 50
// databases of 5 tables each, through an auth module, as a role with
// pg_monitor only: an address that names one database against one that
// names none (every database visited).
func BenchmarkProbeDatabases(b *testing.B) {
	pgtest.Integration(b)
	s := pgtest.StartT(b, pgtest.Options{})
	ctx := context.Background()
	const dbs, tables = 50, 5
	for i := range dbs {
		db := fmt.Sprintf("db%02d", i)
		if err := s.Exec(ctx, "postgres", "CREATE DATABASE "+db); err != nil {
			b.Fatal(err)
		}
		for j := range tables {
			if err := s.Exec(ctx, db, fmt.Sprintf("CREATE TABLE t%d (id int PRIMARY KEY, v text)", j)); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := s.CreateMonitorRole(ctx, "prober", "probepw"); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pw"), []byte("probepw\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "exporter.yml")
	cfgText := fmt.Sprintf(`auth_modules:
  mon:
    type: userpass
    userpass: {username: prober, password_file: %s}
    options: {sslmode: disable, dbname: postgres}
    allowed_targets: {hosts: [127.0.0.1], ports: [%d]}
`, filepath.Join(dir, "pw"), s.Port)
	if err := os.WriteFile(path, []byte(cfgText), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	exp, err := exporter.NewFromConfig(exporter.Settings{ConfigFile: path, Collectors: exporter.DefaultCollectors(),
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Timeouts: exporter.Timeouts{Offset: 100 * time.Millisecond, Default: time.Minute, Max: time.Minute}}, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer exp.Close()
	hs := httptest.NewServer(exp.Server.Routes("/metrics", exp.Reloader, nil))
	defer hs.Close()
	scrape := func(addr string) int64 {
		resp, err := http.Get(hs.URL + "/probe?auth_module=mon&target=" + addr)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		n, _ := io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("%s: %d", addr, resp.StatusCode)
		}
		return n
	}
	for _, c := range []struct{ name, addr string }{
		{"one_database", fmt.Sprintf("127.0.0.1:%d/db07", s.Port)},
		{"all_databases", fmt.Sprintf("127.0.0.1:%d", s.Port)},
	} {
		scrape(c.addr) // the cold scrape fills the TTL caches
		b.Run(c.name, func(b *testing.B) {
			var bytes int64
			for b.Loop() {
				bytes = scrape(c.addr)
			}
			b.ReportMetric(float64(bytes), "bytes/scrape")
		})
	}
}
