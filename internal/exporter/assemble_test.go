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
