package remediate

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// idleSession opens a session as role with application_name app that has
// run one statement and now sits idle (outside any transaction).
func idleSession(t *testing.T, db, role, app string) *pgx.Conn {
	t.Helper()
	ctx := ctxT(t)
	conn, err := pgx.Connect(ctx, srv.DSN(role, "pw", db)+"&application_name="+app)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	return conn
}

// sessionsOf lists the application_name of role's sessions in db, sorted.
func sessionsOf(t *testing.T, db, role string) string {
	t.Helper()
	ctx := ctxT(t)
	conn, err := srv.Connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var s string
	if err := conn.QueryRow(ctx, `SELECT coalesce(string_agg(application_name, ' ' ORDER BY application_name), '')
FROM pg_stat_activity WHERE datname = $1 AND usename = $2`, db, role).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

const poolRule = `
  - alertname: PostgresPoolExhausted
    action: terminate_idle
    params:
      pools: {web: 'web-.*'}
      idle_for: 2s
      max_sessions: 2
`

// A pool at its limit: the oldest idle sessions of that pool go, at most
// max_sessions of them; younger or busy sessions of the pool and sessions of
// other applications stay. Dry-run only says which ones it would end.
func TestTerminateIdleOldestOfThePool(t *testing.T) {
	db := newDatabase(t)
	role := appRole(t, "app_web")
	// Three sessions of the pool idle past idle_for, oldest first, and one
	// of another application idle longer than all of them.
	other := idleSession(t, db, role, "batch")
	var old []*pgx.Conn
	for _, app := range []string{"web-1", "web-2", "web-3"} {
		time.Sleep(100 * time.Millisecond) // distinct state_change, so "oldest" is well defined
		old = append(old, idleSession(t, db, role, app))
	}
	// A session of the pool busy with a statement since before idle_for.
	busy, err := pgx.Connect(ctxT(t), srv.DSN(role, "pw", db)+"&application_name=web-busy")
	if err != nil {
		t.Fatal(err)
	}
	busyCtx, stopBusy := context.WithCancel(context.Background())
	busyDone := make(chan error, 1)
	go func() {
		_, err := busy.Exec(busyCtx, "SELECT pg_sleep(20)")
		busyDone <- err
	}()
	t.Cleanup(func() {
		stopBusy()
		<-busyDone
		busy.Close(context.Background())
	})
	time.Sleep(2200 * time.Millisecond)
	young := idleSession(t, db, role, "web-4")

	alert := func() Alert {
		return firing("alertname", "PostgresPoolExhausted", "pool", "web", "datname", db)
	}

	// Dry-run: names the two oldest, touches nothing.
	dry := startReceiver(t, receiverConfig("dry-run", db, poolRule))
	a := alert()
	dry.send(t, a)
	rec := dry.waitRecords(t, 1, forAlert(a))[0]
	if rec.Result != ResultDryRun || !strings.Contains(rec.Reason, "would terminate 2 idle session(s)") ||
		!strings.Contains(rec.Detail, `"web-1"`) || !strings.Contains(rec.Detail, `"web-2"`) || strings.Contains(rec.Detail, `"web-3"`) {
		t.Fatalf("dry-run: %+v", rec)
	}
	// Read pg_stat_activity rather than use the sessions: a statement on
	// them would reset their idle time.
	if got := sessionsOf(t, db, role); got != "batch web-1 web-2 web-3 web-4 web-busy" {
		t.Fatalf("after the dry-run the sessions are %q", got)
	}

	// Enforce: the two oldest idle sessions of the pool are terminated.
	h := startReceiver(t, receiverConfig("enforce", db, poolRule))
	b := alert()
	h.send(t, b)
	rec = h.waitRecords(t, 1, forAlert(b))[0]
	if rec.Result != ResultRan || !strings.Contains(rec.Reason, "terminated 2 session(s)") || rec.Object != "pool web" {
		t.Fatalf("enforce: %+v", rec)
	}
	if got := sessionsOf(t, db, role); got != "batch web-3 web-4 web-busy" {
		t.Errorf("after terminate_idle the sessions are %q, want batch web-3 web-4 web-busy", got)
	}
	for i, c := range old[:2] {
		if alive(t, c) {
			t.Errorf("web-%d, among the two oldest idle sessions of the pool, is still alive", i+1)
		}
	}
	for name, c := range map[string]*pgx.Conn{"web-3 (third oldest, over max_sessions)": old[2], "web-4 (idle for less than idle_for)": young, "batch (another application)": other} {
		if !alive(t, c) {
			t.Errorf("session %s was terminated", name)
		}
	}
	select {
	case err := <-busyDone:
		t.Errorf("the busy session of the pool was interrupted: %v", err)
	default:
	}
}
