package exporter_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
)

// collect[] runs the named collectors only: a probe per database that asks
// for the database-scoped collectors serves its database's objects and none
// of the server-wide families, and costs no session or query for them.
// exclude[] runs all but the named: a probe per server that leaves those out
// visits no database. A name that is not an enabled collector is refused
// before a target is made.
func TestCollectAndExcludeParameters(t *testing.T) {
	pgtest.Integration(t)
	s := pgtest.StartT(t, pgtest.Options{})
	ctx := context.Background()
	if err := s.Exec(ctx, "postgres", "CREATE DATABASE app"); err != nil {
		t.Fatal(err)
	}
	if err := s.Exec(ctx, "app", "CREATE TABLE orders (id int PRIMARY KEY)", "ANALYZE orders"); err != nil {
		t.Fatal(err)
	}
	pwFile := monitorRole(t, s, "prober", "probepw")
	cfg := fmt.Sprintf(`auth_modules:
  mon:
    type: userpass
    userpass: {username: prober, password_file: %s}
    options: {sslmode: disable, dbname: postgres}
    allowed_targets: {hosts: [127.0.0.1], ports: [%d]}
`, pwFile, s.Port)
	h := start(t, cfg, s.SuperuserDSN("postgres"))
	probe := fmt.Sprintf("/probe?auth_module=mon&target=%s", url.QueryEscape(fmt.Sprintf("127.0.0.1:%d/app", s.Port)))

	code, mfs, body, _ := h.get(t, probe+"&collect[]=tables&collect[]=indexes&collect[]=tables", 10*time.Second)
	if code != 200 || mustUp(mfs) != 1 {
		t.Fatalf("probe with collect[]: %d %s", code, body)
	}
	var ran []string
	for _, m := range mfs["pg_scrape_collector_success"].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == "collector" && !slices.Contains(ran, lp.GetValue()) {
				ran = append(ran, lp.GetValue())
			}
		}
		if m.GetGauge().GetValue() != 1 {
			t.Errorf("a collector failed: %v", m)
		}
	}
	slices.Sort(ran)
	if strings.Join(ran, " ") != "indexes tables" {
		t.Errorf("collectors that ran: %v, want indexes and tables", ran)
	}
	if got := datnames(mfs["pg_tables_reported"]); !slices.Equal(got, []string{"app"}) {
		t.Errorf("pg_tables_reported datname %v, want app", got)
	}
	if _, ok := gauge(mfs, "pg_stat_user_tables_n_live_tup", map[string]string{"datname": "app", "relname": "orders"}); !ok {
		t.Errorf("no row for app's orders table:\n%s", body)
	}
	for _, fam := range []string{"pg_stat_database_xact_commit_total", "pg_stat_activity_connections", "pg_settings_hash", "pg_postmaster_start_timestamp_seconds"} {
		if _, ok := mfs[fam]; ok {
			t.Errorf("%s served though its collector was not asked for", fam)
		}
	}

	// Without collect[], every enabled collector runs, server-wide ones too.
	code, mfs, body, _ = h.get(t, probe, 10*time.Second)
	if code != 200 || mustUp(mfs) != 1 {
		t.Fatalf("probe: %d %s", code, body)
	}
	if _, ok := mfs["pg_stat_database_xact_commit_total"]; !ok {
		t.Errorf("the probe without collect[] has no pg_stat_database family")
	}

	// The per-server probe of the same layout leaves the database-scoped
	// collectors out: server-wide families, and not one database visited.
	server := fmt.Sprintf("/probe?auth_module=mon&target=%s", url.QueryEscape(fmt.Sprintf("127.0.0.1:%d", s.Port)))
	code, mfs, body, _ = h.get(t, server+"&exclude[]=tables&exclude[]=indexes&exclude[]=functions&exclude[]=schema&exclude[]=bloat&exclude[]=subscription_tables", 10*time.Second)
	if code != 200 || mustUp(mfs) != 1 {
		t.Fatalf("probe with exclude[]: %d %v %s", code, mustUp(mfs), body)
	}
	if _, ok := mfs["pg_stat_database_xact_commit_total"]; !ok {
		t.Errorf("the per-server probe has no pg_stat_database family")
	}
	for _, fam := range []string{"pg_tables_reported", "pg_stat_user_tables_n_live_tup"} {
		if _, ok := mfs[fam]; ok {
			t.Errorf("%s served though its collector was excluded", fam)
		}
	}
	for _, m := range mfs["pg_scrape_collector_success"].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == "datname" && lp.GetValue() != "" {
				t.Errorf("the per-server probe visited database %q", lp.GetValue())
			}
		}
	}

	// /metrics takes it too; the exporter's own metrics are still served.
	code, mfs, body, _ = h.get(t, "/metrics?collect[]=postmaster", 10*time.Second)
	if code != 200 || mustUp(mfs) != 1 {
		t.Fatalf("/metrics with collect[]: %d %s", code, body)
	}
	if _, ok := mfs["pg_postmaster_start_timestamp_seconds"]; !ok {
		t.Errorf("/metrics?collect[]=postmaster has no postmaster family")
	}
	if _, ok := mfs["pg_stat_database_xact_commit_total"]; ok {
		t.Errorf("/metrics?collect[]=postmaster served the database collector")
	}
	if _, ok := mfs["pg_exporter_build_info"]; !ok {
		t.Errorf("/metrics?collect[]=postmaster left out the exporter's own metrics")
	}

	targets := len(h.mgr.Targets())
	for _, c := range []struct{ param, want string }{
		{"collect[]=no_such", `collect[]="no_such": no enabled collector has that name`},
		{"collect[]=" + strings.Repeat("x", 5000), `..."`},
		{"collect[]=%ff%fe", "no enabled collector"},
		{"collect[]=", "no enabled collector"},
		{"exclude[]=tablez", `exclude[]="tablez": no enabled collector`},
		{"collect[]=tables&exclude[]=indexes", "cannot be combined"},
	} {
		code, _, body, _ := h.get(t, probe+"&"+c.param, 10*time.Second)
		if code != 400 || !strings.Contains(body, c.want) {
			t.Errorf("%.60s: %d %q, want 400 saying %q", c.param, code, body, c.want)
		}
		if len(body) > 2000 {
			t.Errorf("%.60s: the refusal is %d bytes long", c.param, len(body))
		}
	}
	if n := len(h.mgr.Targets()); n != targets {
		t.Errorf("refused probes made targets: %d before, %d after", targets, n)
	}
}
