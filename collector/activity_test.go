package collector_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pghardening/pg_hardening_exporter/collector"
	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/target"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/scrapetest"
)

// session opens a superuser connection to db with application_name app,
// closed when the test ends.
func session(t *testing.T, s *pgtest.Server, db, app string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.SuperuserDSN(db)+"&application_name="+url.QueryEscape(app))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func exec(t *testing.T, conn *pgx.Conn, sql ...string) {
	t.Helper()
	for _, q := range sql {
		if _, err := conn.Exec(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func parseConfig(t *testing.T, src string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.yml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestPoolsCountServiceSessionsAgainstTheExampleConfig(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	data, err := os.ReadFile("../examples/exporter.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("examples/exporter.yml", data)
	if err != nil {
		t.Fatal(err)
	}
	var api []*pgx.Conn
	for range 7 {
		api = append(api, session(t, s, "postgres", "api"))
	}
	for _, c := range api[:2] {
		exec(t, c, "BEGIN", "SELECT 1")
	}
	session(t, s, "postgres", "unpooled-test")

	sc := scrapetest.New(t, s.SuperuserDSN(""), cfg, "pools")
	r := sc.Scrape(t)
	r.RequireUp(t)
	pool := map[string]string{"pool": "api"}
	if n := r.Sum("pg_pool_connections", pool); n != 7 {
		t.Fatalf("pool api has %v connections, want 7:\n%s", n, r.String("pg_pool_connections"))
	}
	for state, want := range map[string]float64{"idle": 5, "idle in transaction": 2, "active": 0} {
		if n, ok := r.Value("pg_pool_connections", map[string]string{"pool": "api", "state": state}); !ok || n != want {
			t.Errorf("pool api state %q: %v (present %v), want %v", state, n, ok, want)
		}
	}
	if n, _ := r.Value("pg_pool_max_connections", pool); n != 20 {
		t.Errorf("pool api max %v, want 20", n)
	}
	if n, _ := r.Value("pg_pool_min_connections", pool); n != 5 {
		t.Errorf("pool api min %v, want 5", n)
	}
	if n := r.Sum("pg_pool_connections", map[string]string{"pool": "analytics"}); n != 0 {
		t.Errorf("pool analytics has %v connections, want 0", n)
	}
	if n, ok := r.Value("pg_pool_unmatched_connections", map[string]string{"application_name": "unpooled-test"}); !ok || n != 1 {
		t.Errorf("unpooled session counted %v (present %v), want 1:\n%s", n, ok, r.String("pg_pool_unmatched_connections"))
	}
	if _, ok := r.Value("pg_pool_unmatched_connections", map[string]string{"application_name": target.ApplicationName}); ok {
		t.Error("the exporter's own sessions are counted as unmatched")
	}
	if problems := sc.Lint(t); len(problems) > 0 {
		t.Errorf("promlint: %v", problems)
	}
}

func TestActivityIdleInTransactionAndLongRunning(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	ctx := context.Background()
	if err := s.CreateDatabase(ctx, "acttest"); err != nil {
		t.Fatal(err)
	}
	cfg := parseConfig(t, "activity:\n  long_transaction_threshold: 1s\n")
	idle := session(t, s, "acttest", "itx-test")
	exec(t, idle, "BEGIN", "SELECT 1")
	session(t, s, "acttest", "idle-test") // idle, no transaction
	busy := session(t, s, "acttest", "busy-test")
	done := make(chan error, 1)
	go func() {
		_, err := busy.Exec(ctx, "SELECT pg_sleep(2)")
		done <- err
	}()
	defer func() {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	// The ages count from when the server started the statement, which a
	// loaded machine may delay: wait until it runs, then 1.3 s.
	awaitValues(t, s, "postgres", "SELECT count(*)::float8 FROM pg_stat_activity WHERE application_name = 'busy-test' AND state = 'active'",
		func(v []float64) bool { return v[0] == 1 })
	sleep(1300)

	sc := scrapetest.New(t, s.SuperuserDSN(""), cfg, "activity")
	r := sc.Scrape(t)
	r.RequireUp(t)
	db := map[string]string{"datname": "acttest"}
	if n, _ := r.Value("pg_stat_activity_idle_in_transaction_sessions", db); n != 1 {
		t.Errorf("idle in transaction in acttest: %v, want 1", n)
	}
	if age, _ := r.Value("pg_stat_activity_idle_in_transaction_max_duration_seconds", db); age < 1.3 || age > 60 {
		t.Errorf("idle-in-transaction age %v, want about 1.3 s", age)
	}
	// The idle transaction and the sleeping statement's transaction are both past 1 s.
	if n, _ := r.Value("pg_long_running_transactions", db); n != 2 {
		t.Errorf("long-running transactions in acttest: %v, want 2", n)
	}
	if v, _ := r.Value("pg_long_running_transactions_threshold_seconds", nil); v != 1 {
		t.Errorf("threshold %v, want 1", v)
	}
	if age, _ := r.Value("pg_stat_activity_max_tx_duration_seconds", map[string]string{"datname": "acttest", "state": "idle in transaction"}); age < 1.3 {
		t.Errorf("oldest idle transaction %v s, want >= 1.3", age)
	}
	if age, _ := r.Value("pg_stat_activity_max_query_duration_seconds", map[string]string{"datname": "acttest", "state": "active"}); age < 1.3 || age > 2 {
		t.Errorf("oldest running statement %v s, want 1.3 to 2 (pg_sleep(2))", age)
	}
	if _, ok := r.Value("pg_stat_activity_max_query_duration_seconds", map[string]string{"datname": "acttest", "state": "idle"}); ok {
		t.Error("idle sessions reported as running a statement")
	}
	// The exporter's own session is the only active one in postgres: it must not report itself.
	if _, ok := r.Value("pg_stat_activity_max_tx_duration_seconds", map[string]string{"datname": "postgres", "state": "active"}); ok {
		t.Errorf("the exporter reports its own transaction:\n%s", r.String("pg_stat_activity_max_tx_duration_seconds"))
	}
	if n, _ := r.Value("pg_stat_activity_connections", map[string]string{"datname": "acttest", "application_name": "itx-test", "state": "idle in transaction", "wait_event_type": "Client"}); n != 1 {
		t.Errorf("itx-test session: %v\n%s", n, r.String("pg_stat_activity_connections"))
	}
	if n, _ := r.Value("pg_stat_activity_connections", map[string]string{"datname": "acttest", "application_name": "busy-test", "state": "active", "wait_event_type": "Timeout"}); n != 1 {
		t.Errorf("busy-test session: %v\n%s", n, r.String("pg_stat_activity_connections"))
	}

	conn := session(t, s, "postgres", "check")
	var maxConn, reserved float64
	if err := conn.QueryRow(ctx, `SELECT current_setting('max_connections')::float8,
		current_setting('superuser_reserved_connections')::float8 + COALESCE(current_setting('reserved_connections', true), '0')::float8`).Scan(&maxConn, &reserved); err != nil {
		t.Fatal(err)
	}
	if v, _ := r.Value("pg_connections_max", nil); v != maxConn {
		t.Errorf("pg_connections_max %v, want %v", v, maxConn)
	}
	if v, _ := r.Value("pg_connections_reserved", nil); v != reserved {
		t.Errorf("pg_connections_reserved %v, want %v", v, reserved)
	}
	inUse, _ := r.Value("pg_connections_in_use", nil)
	if inUse < 4 || inUse != r.Sum("pg_stat_activity_connections", nil) {
		t.Errorf("in use %v, by label set %v", inUse, r.Sum("pg_stat_activity_connections", nil))
	}
	if n, _ := r.Value("pg_stat_activity_backends", map[string]string{"backend_type": "client backend"}); n != inUse {
		t.Errorf("client backends %v, in use %v", n, inUse)
	}
	if n, _ := r.Value("pg_stat_activity_backends", map[string]string{"backend_type": "checkpointer"}); n != 1 {
		t.Errorf("checkpointer backends %v, want 1", n)
	}
}

// A backend still authenticating holds the transaction the server opens to
// start it (PostgreSQL 18 lists it with state starting; older servers do not
// list it). No client has begun that transaction, and its database and
// application_name are not reported yet, so the exporter's own connections
// opened during a scrape would look like anyone's: it counts as a
// connection and in no transaction or pool metric.
func TestActivityCountsAStartingBackendAsAConnectionOnly(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	startingBackend(t, s)
	listed := s.Major >= 18
	if listed {
		awaitValues(t, s, "postgres", "SELECT count(*)::float8 FROM pg_stat_activity WHERE state = 'starting' AND xact_start IS NOT NULL",
			func(v []float64) bool { return v[0] == 1 })
	}
	sleep(1300) // past the threshold below

	cfg := parseConfig(t, "activity:\n  long_transaction_threshold: 1s\n")
	r := scrapetest.New(t, s.SuperuserDSN(""), cfg, "activity", "pools").Scrape(t)
	r.RequireUp(t)
	starting := map[string]string{"state": "starting"}
	// The scrape's own connections may be starting too.
	if n := r.Sum("pg_stat_activity_connections", starting); (n >= 1) != listed {
		t.Errorf("%v starting connections on PostgreSQL %d:\n%s", n, s.Major, r.String("pg_stat_activity_connections"))
	}
	if v := r.Values("pg_stat_activity_max_tx_duration_seconds", starting); len(v) > 0 {
		t.Errorf("a starting backend's transaction is reported:\n%s", r.String("pg_stat_activity_max_tx_duration_seconds"))
	}
	noDatabase := map[string]string{"datname": ""}
	for _, name := range []string{"pg_stat_activity_max_tx_duration_seconds", "pg_long_running_transactions", "pg_stat_activity_idle_in_transaction_sessions"} {
		if v := r.Values(name, noDatabase); len(v) > 0 {
			t.Errorf("%s has a series without a database:\n%s", name, r.String(name))
		}
	}
	// Its application_name is not reported yet, so no pool could match it.
	if _, ok := r.Value("pg_pool_unmatched_connections", map[string]string{"application_name": ""}); ok {
		t.Errorf("a starting backend is counted outside every pool:\n%s", r.String("pg_pool_unmatched_connections"))
	}
}

// startingBackend opens a connection as the superuser over TCP, where the
// server asks for a password, and never answers: the backend waits in
// authentication (authentication_timeout, 1 minute by default) until the
// test closes the connection.
func startingBackend(t *testing.T, s *pgtest.Server) {
	t.Helper()
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	startup, err := (&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber,
		Parameters: map[string]string{"user": pgtest.Superuser, "database": "postgres", "application_name": "starting-test"}}).Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(startup); err != nil {
		t.Fatal(err)
	}
	// The reply is an authentication request: 'R', its length, and a code
	// that is 0 only when no password is wanted.
	var reply [9]byte
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, reply[:]); err != nil {
		t.Fatal(err)
	}
	if reply[0] != 'R' || binary.BigEndian.Uint32(reply[5:]) == 0 {
		t.Fatalf("the server answered the startup with %q, not a password request", reply[:])
	}
}

// With max_label_sets 2 the breakdown keeps two label sets and adds the rest
// into the __other__ series, losing no session.
func TestActivityBreakdownIsBounded(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	for _, app := range []string{"bound-a", "bound-b", "bound-c", "bound-d"} {
		session(t, s, "postgres", app)
	}
	cfg := parseConfig(t, "activity:\n  max_label_sets: 2\n")
	r := scrapetest.New(t, s.SuperuserDSN(""), cfg, "activity").Scrape(t)
	r.RequireUp(t)
	if n := len(r.Values("pg_stat_activity_connections", nil)); n != 3 {
		t.Fatalf("%d series, want 2 plus __other__:\n%s", n, r.String("pg_stat_activity_connections"))
	}
	other, ok := r.Value("pg_stat_activity_connections", map[string]string{"datname": collector.OtherLabel, "application_name": collector.OtherLabel})
	if !ok || other < 2 {
		t.Fatalf("__other__ holds %v (present %v), want at least the 2 sessions left out", other, ok)
	}
	inUse, _ := r.Value("pg_connections_in_use", nil)
	if sum := r.Sum("pg_stat_activity_connections", nil); sum != inUse {
		t.Fatalf("bounded breakdown sums to %v, in use %v", sum, inUse)
	}
}
