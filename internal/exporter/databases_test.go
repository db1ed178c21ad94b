package exporter_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
)

// datnames lists the datname values of one family, sorted.
func datnames(mf *dto.MetricFamily) []string {
	var out []string
	for _, m := range mf.GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == "datname" && !slices.Contains(out, lp.GetValue()) {
				out = append(out, lp.GetValue())
			}
		}
	}
	slices.Sort(out)
	return out
}

// A target's own databases section, and a probe address that names a
// database, limit the databases its database-scoped collectors visit; with
// neither, every database is visited. pg_stat_database, read once from the
// target's own connection, keeps one row per database whatever the
// selection.
func TestTargetsAndProbesChooseTheirDatabases(t *testing.T) {
	pgtest.Integration(t)
	s := pgtest.StartT(t, pgtest.Options{})
	ctx := context.Background()
	for _, db := range []string{"db1", "db2", "db3"} {
		if err := s.Exec(ctx, "postgres", "CREATE DATABASE "+db); err != nil {
			t.Fatal(err)
		}
	}
	pwFile := monitorRole(t, s, "prober", "probepw")
	module := func(name, extra string) string {
		return fmt.Sprintf(`  %s:
    type: userpass
    userpass: {username: prober, password_file: %s}
    options: {sslmode: disable, dbname: postgres}
    allowed_targets: {hosts: [127.0.0.1], ports: [%d]}
%s`, name, pwFile, s.Port, extra)
	}
	cfg := fmt.Sprintf(`databases:
  exclude: [db3]
targets:
  - name: only1
    dsn: %q
    databases:
      include: [db1]
  - name: global
    dsn: %q
auth_modules:
`, s.SuperuserDSN("postgres"), s.SuperuserDSN("postgres")) + module("mon", "") + module("wide", "    all_databases: true\n")
	h := start(t, cfg, "")
	addr := func(db string) string { return fmt.Sprintf("127.0.0.1:%d%s", s.Port, db) }
	for _, c := range []struct{ path, want string }{
		{"/probe?target=only1", "db1"},
		{"/probe?target=global", "db1 db2 postgres"},
		{"/probe?target=" + addr("/db2") + "&auth_module=mon", "db2"},
		{"/probe?target=" + addr("?dbname=db1") + "&auth_module=mon", "db1"},
		{"/probe?target=" + addr("") + "&auth_module=mon", "db1 db2 postgres"},
		{"/probe?target=" + addr("/db2") + "&auth_module=wide", "db1 db2 postgres"},
		// The top level's exclude still applies to a named database.
		{"/probe?target=" + addr("/db3") + "&auth_module=mon", ""},
	} {
		code, mfs, body, _ := h.get(t, c.path, 10*time.Second)
		if code != 200 || mustUp(mfs) != 1 {
			t.Fatalf("%s: %d %s", c.path, code, body)
		}
		if got := strings.Join(datnames(mfs["pg_tables_reported"]), " "); got != c.want {
			t.Errorf("%s: pg_tables_reported datname %q, want %q", c.path, got, c.want)
		}
		got := datnames(mfs["pg_stat_database_xact_commit_total"])
		for _, db := range []string{"db1", "db2", "db3", "postgres"} {
			if !slices.Contains(got, db) {
				t.Errorf("%s: pg_stat_database_xact_commit_total has no row for %s (has %v); it is server-wide", c.path, db, got)
			}
		}
	}
}
