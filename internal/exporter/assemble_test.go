package exporter_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pghardening/pg_hardening_exporter/internal/exporter"
)

// A custom query may not reuse a family that /metrics serves besides the
// collectors: the exporter's own, PgBouncers' and backup sources'.
func TestCustomQueriesClashWithServedFamilies(t *testing.T) {
	for _, tc := range []struct{ query, column, want string }{
		{"pg_exporter_pool", "connections", "metric pg_exporter_pool_connections of the exporter's own metrics"},
		{"pgbouncer_pools", "client_active_connections", "metric pgbouncer_pools_client_active_connections of the exporter's PgBouncer metrics"},
		{"pg_backup", "last_success_timestamp_seconds", "of the exporter's backup source metrics"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			dir := t.TempDir()
			queries := filepath.Join(dir, "queries.yaml")
			yaml := tc.query + ":\n  query: SELECT 1 AS " + tc.column + "\n  metrics:\n    - " + tc.column + ":\n        usage: GAUGE\n        description: clash\n"
			if err := os.WriteFile(queries, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := exporter.Load(exporter.Settings{QueryPaths: []string{queries}, Logger: quiet})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error containing %q, got %v", tc.want, err)
			}
			if !strings.Contains(err.Error(), queries+":") {
				t.Errorf("the error does not name the file and line: %v", err)
			}
		})
	}
}

// The built-in queries.yaml runs only when no file is named, and "none"
// turns every file off.
func TestBuiltinQueriesOnlyWithoutFiles(t *testing.T) {
	bad := []byte("broken: [\n")
	if _, err := exporter.Load(exporter.Settings{BuiltinQueries: bad, Logger: quiet}); err == nil || !strings.Contains(err.Error(), "queries.yaml (built in)") {
		t.Fatalf("with no file named the built-in queries must load; got %v", err)
	}
	if _, err := exporter.Load(exporter.Settings{BuiltinQueries: bad, QueryPaths: []string{exporter.NoQueries}, Logger: quiet}); err != nil {
		t.Fatalf("\"none\" must turn the built-in queries off: %v", err)
	}
}

// A reload puts the PgBouncers and backup sources of the new file in force
// with the rest, and a reload that fails anywhere (here a custom query that
// clashes with a PgBouncer family) leaves every one of them as it was.
func TestReloadReconfiguresPgBouncersAndBackupSources(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "exporter.yml")
	clash := filepath.Join(dir, "clash.yaml")
	if err := os.WriteFile(clash, []byte("pgbouncer:\n  query: SELECT 1 AS up\n  metrics:\n    - up:\n        usage: GAUGE\n        description: clash\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	write := func(name, extra string) {
		t.Helper()
		// Port 1 refuses at once: the PgBouncer reports down without waiting.
		yml := "pgbouncers:\n  - name: " + name + "\n    dsn: postgres://u@127.0.0.1:1/pgbouncer\n    timeout: 2s\n" +
			"backup_sources:\n  - name: " + name + "\n    type: manifest\n    directory: " + dir + "\n" + extra
		if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("one", "")
	e, err := exporter.New(exporter.Settings{ConfigFile: path, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	names := func() (bouncers, sources []string) {
		t.Helper()
		mfs, err := e.Server.Self.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				for _, lp := range m.GetLabel() {
					switch {
					case mf.GetName() == "pgbouncer_up" && lp.GetName() == "pgbouncer":
						bouncers = append(bouncers, lp.GetValue())
					case mf.GetName() == "pg_backup_source_up" && lp.GetName() == "source":
						sources = append(sources, lp.GetValue())
					}
				}
			}
		}
		return bouncers, sources
	}
	want := func(when, name string) {
		t.Helper()
		b, s := names()
		if strings.Join(b, ",") != name || strings.Join(s, ",") != name {
			t.Fatalf("%s: PgBouncers %v and backup sources %v, want %s", when, b, s, name)
		}
	}
	want("at start", "one")

	write("two", "custom_queries: ["+clash+"]\n")
	if err := e.Reloader.Reload(); err == nil || !strings.Contains(err.Error(), "PgBouncer metrics") {
		t.Fatalf("a clashing custom query must fail the reload, got %v", err)
	}
	want("after a failed reload", "one")

	write("two", "")
	if err := e.Reloader.Reload(); err != nil {
		t.Fatal(err)
	}
	want("after a good reload", "two")
}

// A target whose connection settings cannot be read or parsed stops the start
// and a reload with its file and line; a failed reload keeps the targets in
// force. Nothing waits for the target's first /probe.
func TestBadTargetRefusedAtStartAndReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "exporter.yml")
	write := func(yml string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("EXPORTER_TEST_UNSET_DSN", "")
	bad := map[string]struct{ yml, want string }{
		"bad port": {"targets:\n  - name: good\n    dsn: postgres://u@127.0.0.1:1/x\n  - name: a\n    dsn: postgres://u:Secr3t@db:notaport/x\n",
			`:4: target "a" dsn is not a valid PostgreSQL connection string`},
		"bad option": {"targets:\n  - name: a\n    dsn: host=db sslmode=sometimes\n",
			`:2: target "a" dsn is not a valid PostgreSQL connection string`},
		"missing dsn_file": {"targets:\n  - name: a\n    dsn_file: " + filepath.Join(dir, "nosuch") + "\n",
			`:2: target "a": cannot read dsn_file`},
		"unset dsn_env": {"targets:\n  - name: a\n    dsn_env: EXPORTER_TEST_UNSET_DSN\n",
			`:2: target "a" dsn_env EXPORTER_TEST_UNSET_DSN: the environment variable is empty or unset`},
	}
	for name, tc := range bad {
		t.Run("start/"+name, func(t *testing.T) {
			write(tc.yml)
			_, err := exporter.New(exporter.Settings{ConfigFile: path, Logger: quiet})
			if err == nil || !strings.Contains(err.Error(), path+tc.want) {
				t.Fatalf("want an error containing %q, got %v", path+tc.want, err)
			}
			if strings.Contains(err.Error(), "Secr3t") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
	write("targets:\n  - name: good\n    dsn: postgres://u@127.0.0.1:1/x\n")
	e, err := exporter.New(exporter.Settings{ConfigFile: path, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	for name, tc := range bad {
		t.Run("reload/"+name, func(t *testing.T) {
			write(tc.yml)
			if err := e.Reloader.Reload(); err == nil || !strings.Contains(err.Error(), path+tc.want) {
				t.Fatalf("want an error containing %q, got %v", path+tc.want, err)
			}
			if _, err := e.Manager.Probe("good", ""); err != nil {
				t.Fatalf("the targets in force before the failed reload are gone: %v", err)
			}
		})
	}
}
