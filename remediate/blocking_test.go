package remediate

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const blockingRule = `
  - alertname: PostgresBlockingSessions
    action: terminate_backend
    params: {sessions: blocking, min_age: 1s, max_sessions: 1}
`

// The rule pack's lock alerts are per server (pg_locks has no database), so
// the alert has no datname: the receiver looks for blockers in every database
// and acts only on those in allowed ones.
func TestTerminateBlockerFromAServerWideAlert(t *testing.T) {
	db := newDatabase(t)
	other := newDatabase(t) // not in allow.databases
	role := appRole(t, "app_locker")
	ctx := ctxT(t)
	for _, d := range []string{db, other} {
		if err := srv.Exec(ctx, d, "CREATE TABLE IF NOT EXISTS t (id int PRIMARY KEY, v int)",
			"INSERT INTO t VALUES (1, 0) ON CONFLICT DO NOTHING", "GRANT ALL ON t TO "+role); err != nil {
			t.Fatal(err)
		}
	}
	// In each database: a holder idle in its transaction with the row locked,
	// and a waiter blocked on that row.
	hold := func(d string) (holder *pgx.Conn, waiterDone chan error) {
		holder = idleInTransaction(t, d, role, "holder")
		if _, err := holder.Exec(ctx, "UPDATE t SET v = v + 1 WHERE id = 1"); err != nil {
			t.Fatal(err)
		}
		waiter, err := pgx.Connect(ctx, srv.DSN(role, "pw", d))
		if err != nil {
			t.Fatal(err)
		}
		// The waiter's statement ends before its connection closes: one
		// still blocked at the end is cancelled first.
		wctx, cancel := context.WithCancel(ctx)
		finished := make(chan struct{})
		t.Cleanup(func() { cancel(); <-finished; waiter.Close(context.Background()) })
		waiterDone = make(chan error, 1)
		go func() {
			defer close(finished)
			_, err := waiter.Exec(wctx, "UPDATE t SET v = v + 1 WHERE id = 1")
			waiterDone <- err
		}()
		return holder, waiterDone
	}
	allowedHolder, allowedWaiter := hold(db)
	otherHolder, _ := hold(other)
	time.Sleep(1500 * time.Millisecond)

	h := startReceiver(t, receiverConfig("enforce", db, blockingRule))
	a := firing("alertname", "PostgresBlockingSessions")
	h.send(t, a)
	rec := h.waitRecords(t, 1, forAlert(a))[0]
	if rec.Result != ResultRan || !strings.Contains(rec.Reason, "terminated 1 session") {
		t.Fatalf("%+v", rec)
	}
	if alive(t, allowedHolder) {
		t.Error("the blocker in the allowed database is still alive")
	}
	select {
	case err := <-allowedWaiter:
		if err != nil {
			t.Errorf("the blocked session failed instead of proceeding: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("the blocked session is still waiting after its blocker was terminated")
	}
	if !alive(t, otherHolder) {
		t.Error("a blocker in a database outside allow.databases was terminated")
	}
	_ = otherHolder.Close(context.Background()) // releases the other waiter
}
