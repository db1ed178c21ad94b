package pgbouncer_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/pgbouncer"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/bouncertest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/families"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
)

var srv *pgtest.Server

func TestMain(m *testing.M) {
	os.Exit(pgtest.RunMain(m, pgtest.Options{}, &srv))
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// startBouncer puts a PgBouncer with pool_size 1 in front of the test server;
// "postgres" is both the upstream login and the admin console user.
func startBouncer(t *testing.T, s *pgtest.Server) *bouncertest.Bouncer {
	t.Helper()
	return bouncertest.StartT(t, bouncertest.Options{
		UpstreamPort: s.Port,
		Users:        map[string]string{pgtest.Superuser: s.SuperuserPassword()},
		AdminUsers:   []string{pgtest.Superuser},
		PoolMode:     "transaction",
		PoolSize:     1,
		Extra:        []string{"max_client_conn = 40", "reserve_pool_size = 0"},
	})
}

// Three clients holding transactions on a pool of one server connection leave
// two waiting; the collector reports them, and their wait grows.
func TestWaitingClients(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	b := startBouncer(t, s)
	c := pgbouncer.New(quiet)
	t.Cleanup(c.Close)
	if err := c.Configure([]config.PgBouncer{{Name: "main", ConnSource: config.ConnSource{DSN: b.AdminDSN()}, Timeout: config.DefaultPgBouncerTimeout}}); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var conns []*pgx.Conn
	for range 3 {
		cfg, err := pgx.ParseConfig(b.DSN(pgtest.Superuser, s.SuperuserPassword(), "postgres"))
		if err != nil {
			t.Fatal(err)
		}
		cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
	}
	// The first client takes the only server connection and keeps it.
	tx, err := conns[0].Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	// The other two wait for it inside their first statement.
	var wg sync.WaitGroup
	for _, conn := range conns[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = conn.Exec(ctx, "SELECT 1")
		}()
	}
	labels := map[string]string{"pgbouncer": "main", "database": "postgres", "user": pgtest.Superuser}
	var f families.Result
	for deadline := time.Now().Add(10 * time.Second); ; {
		f = families.Gather(t, c)
		if f.One(t, "pgbouncer_pools_client_waiting_connections", labels) == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v := f.One(t, "pgbouncer_pools_client_waiting_connections", labels); v != 2 {
		t.Fatalf("client_waiting = %v, want 2", v)
	}
	if v := f.One(t, "pgbouncer_pools_client_active_connections", labels); v != 1 {
		t.Errorf("client_active = %v, want 1", v)
	}
	if v := f.One(t, "pgbouncer_pools_server_active_connections", labels); v != 1 {
		t.Errorf("server_active = %v, want 1", v)
	}
	if v := f.One(t, "pgbouncer_up", map[string]string{"pgbouncer": "main"}); v != 1 {
		t.Errorf("pgbouncer_up = %v", v)
	}
	wait1 := f.One(t, "pgbouncer_pools_client_maxwait_seconds", labels)
	time.Sleep(300 * time.Millisecond)
	f = families.Gather(t, c)
	wait2 := f.One(t, "pgbouncer_pools_client_maxwait_seconds", labels)
	if !(wait2 > wait1) || wait1 <= 0 {
		t.Errorf("maxwait did not grow between scrapes: %v then %v", wait1, wait2)
	}

	// The rest of what the admin console says, against the generated ini.
	if v := f.One(t, "pgbouncer_config_max_client_connections", nil); v != 40 {
		t.Errorf("config max_client_connections = %v, want 40", v)
	}
	if v := f.One(t, "pgbouncer_config_default_pool_size", nil); v != 1 {
		t.Errorf("config default_pool_size = %v, want 1", v)
	}
	if v := f.One(t, "pgbouncer_databases_current_connections", map[string]string{"name": "postgres"}); v != 1 {
		t.Errorf("databases current_connections{postgres} = %v, want 1", v)
	}
	// Four clients: the three above and the collector's own admin connection.
	if v := f.One(t, "pgbouncer_lists_used_clients", nil); v != 4 {
		t.Errorf("lists used_clients = %v, want 4", v)
	}
	vi := f["pgbouncer_version_info"].GetMetric()
	if len(vi) != 1 || !strings.HasPrefix(labelOf(vi[0], "version"), "1.") {
		t.Errorf("version_info = %v", vi)
	}
	for _, cmd := range []string{"version", "pools", "stats", "databases", "lists", "config"} {
		if v := f.One(t, "pgbouncer_scrape_command_success", map[string]string{"command": cmd}); v != 1 {
			t.Errorf("SHOW %s failed", cmd)
		}
	}

	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	f = families.Gather(t, c)
	if v := f.One(t, "pgbouncer_pools_client_waiting_connections", labels); v != 0 {
		t.Errorf("client_waiting after commit = %v, want 0", v)
	}
	// Three transactions and one more statement each ran through the pool.
	if v := f.One(t, "pgbouncer_stats_sql_transactions_pooled_total", map[string]string{"database": "postgres"}); v < 3 {
		t.Errorf("stats transactions = %v, want >= 3", v)
	}
	for _, conn := range conns {
		conn.Close(ctx)
	}
	declared := map[string]bool{}
	for _, m := range pgbouncer.Metrics() {
		declared[m.Name] = true
	}
	for name := range f {
		if !declared[name] {
			t.Errorf("%s is emitted but not declared in pgbouncer.Metrics (docs/metrics.md)", name)
		}
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Errorf("promlint: %v %v", problems, err)
	}
}

func labelOf(m *dto.Metric, name string) string {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name {
			return lp.GetValue()
		}
	}
	return ""
}

// Two PgBouncers are watched at once; stopping one gives pgbouncer_up 0 for
// it alone, and starting it again brings it back.
func TestTwoBouncersOneDown(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	a, b := startBouncer(t, s), startBouncer(t, s)
	c := pgbouncer.New(quiet)
	t.Cleanup(c.Close)
	if err := c.Configure([]config.PgBouncer{
		{Name: "a", ConnSource: config.ConnSource{DSN: a.AdminDSN()}, Timeout: config.DefaultPgBouncerTimeout},
		{Name: "b", ConnSource: config.ConnSource{DSN: b.AdminDSN()}, Timeout: 2 * time.Second},
	}); err != nil {
		t.Fatal(err)
	}
	f := families.Gather(t, c)
	for _, n := range []string{"a", "b"} {
		if v := f.One(t, "pgbouncer_up", map[string]string{"pgbouncer": n}); v != 1 {
			t.Fatalf("pgbouncer_up{%s} = %v", n, v)
		}
	}
	if err := b.StopServer(); err != nil {
		t.Fatal(err)
	}
	f = families.Gather(t, c)
	if v := f.One(t, "pgbouncer_up", map[string]string{"pgbouncer": "a"}); v != 1 {
		t.Errorf("pgbouncer_up{a} = %v after b stopped", v)
	}
	if v := f.One(t, "pgbouncer_up", map[string]string{"pgbouncer": "b"}); v != 0 {
		t.Errorf("pgbouncer_up{b} = %v after b stopped", v)
	}
	f.One(t, "pgbouncer_pools_client_waiting_connections", map[string]string{"pgbouncer": "a", "database": "pgbouncer"})
	for _, m := range f["pgbouncer_pools_client_waiting_connections"].GetMetric() {
		if labelOf(m, "pgbouncer") == "b" {
			t.Errorf("a stopped PgBouncer still has pool series: %v", m)
		}
	}
	if err := b.StartServer(); err != nil {
		t.Fatal(err)
	}
	f = families.Gather(t, c)
	if v := f.One(t, "pgbouncer_up", map[string]string{"pgbouncer": "b"}); v != 1 {
		t.Errorf("pgbouncer_up{b} = %v after restart", v)
	}
}

// Bad settings are refused with the PgBouncer's name and what to do, and
// leave the running list alone.
func TestConfigureErrors(t *testing.T) {
	c := pgbouncer.New(quiet)
	for _, tc := range []struct {
		b    config.PgBouncer
		want string
	}{
		{config.PgBouncer{Name: "x", ConnSource: config.ConnSource{DSN: "postgres://u@127.0.0.1:6432/appdb"}}, `names database "appdb"`},
		{config.PgBouncer{Name: "x", ConnSource: config.ConnSource{DSN: "postgres://u@127.0.0.1:bad/pgbouncer"}}, "not a valid PostgreSQL connection string"},
		{config.PgBouncer{Name: "x", ConnSource: config.ConnSource{DSNFile: "/nonexistent/dsn"}}, "cannot read dsn_file"},
		{config.PgBouncer{Name: "x", ConnSource: config.ConnSource{DSN: "postgres://u@h/pgbouncer", PasswordFile: "/nonexistent/pw"}}, "cannot read password_file"},
		{config.PgBouncer{Name: "x", ConnSource: config.ConnSource{DSNEnv: "PGBOUNCERTEST_UNSET_VARIABLE"}}, "empty or unset"},
	} {
		err := c.Configure([]config.PgBouncer{tc.b})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `"x"`) {
			t.Errorf("%+v: error %v, want it to contain %q and the name", tc.b, err, tc.want)
		}
	}
	if err := c.Configure([]config.PgBouncer{{Name: "x", ConnSource: config.ConnSource{DSN: "postgres://u@127.0.0.1:6432/pgbouncer"}}}); err == nil || !strings.Contains(err.Error(), `pgbouncer "x" has no positive timeout`) {
		t.Errorf("a PgBouncer without a timeout: error %v", err)
	}
	// A secret in a bad DSN never reaches the message.
	err := c.Configure([]config.PgBouncer{{Name: "x", ConnSource: config.ConnSource{DSN: "postgres://u:s3cretpw@127.0.0.1:99999999/pgbouncer"}}})
	if err == nil || strings.Contains(err.Error(), "s3cretpw") {
		t.Errorf("error %v leaks the password or is missing", err)
	}
}
