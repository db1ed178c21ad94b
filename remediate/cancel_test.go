package remediate

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// cancel_backend on a blocker cancels the statement it is running: the
// statement fails with 57014, its transaction is aborted (releasing the row
// lock, so the waiter proceeds) and the session stays.
func TestCancelBlockerStatement(t *testing.T) {
	db := newDatabase(t)
	role := appRole(t, "app_sleeper")
	ctx := ctxT(t)
	if err := srv.Exec(ctx, db, "CREATE TABLE t (id int PRIMARY KEY, v int)", "INSERT INTO t VALUES (1, 0)", "GRANT ALL ON t TO "+role); err != nil {
		t.Fatal(err)
	}
	blocker := idleInTransaction(t, db, role, "sleeper")
	if _, err := blocker.Exec(ctx, "UPDATE t SET v = v + 1 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	sleepDone := make(chan error, 1)
	go func() {
		_, err := blocker.Exec(ctx, "SELECT pg_sleep(30)")
		sleepDone <- err
	}()
	waiter, err := pgx.Connect(ctx, srv.DSN(role, "pw", db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { waiter.Close(context.Background()) })
	waiterDone := make(chan error, 1)
	go func() {
		_, err := waiter.Exec(ctx, "UPDATE t SET v = v + 1 WHERE id = 1")
		waiterDone <- err
	}()
	time.Sleep(1200 * time.Millisecond)

	h := startReceiver(t, receiverConfig("enforce", db, `
  - alertname: PostgresBlockingSessions
    action: cancel_backend
    params: {sessions: blocking, min_age: 1s, max_sessions: 1}
`))
	a := firing("alertname", "PostgresBlockingSessions", "datname", db)
	h.send(t, a)
	rec := h.waitRecords(t, 1, forAlert(a))[0]
	if rec.Result != ResultRan || !strings.Contains(rec.Reason, "cancelled 1 session") || rec.Statement != "pg_cancel_backend(pid)" ||
		!strings.Contains(rec.Detail, `"sleeper"`) {
		t.Fatalf("%+v", rec)
	}
	select {
	case err := <-sleepDone:
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "57014" {
			t.Fatalf("the blocker's statement ended with %v, want SQLSTATE 57014 (query_canceled)", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the blocker's pg_sleep(30) is still running after cancel_backend")
	}
	// The error aborts the transaction, which releases its locks at once:
	// the waiter proceeds.
	select {
	case err := <-waiterDone:
		if err != nil {
			t.Errorf("the waiter failed after the blocker's statement was cancelled: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("the waiter is still blocked after the blocker's statement was cancelled")
	}
	// Cancelled, not terminated: the session is still there, in its aborted
	// transaction block, and its client can roll back and go on.
	if st := blocker.PgConn().TxStatus(); st != 'E' {
		t.Errorf("the blocker's transaction status is %q, want 'E' (failed transaction block)", st)
	}
	if _, err := blocker.Exec(ctx, "ROLLBACK"); err != nil {
		t.Fatalf("the cancelled session cannot roll back: %v", err)
	}
	if !alive(t, blocker) {
		t.Error("the cancelled session is gone")
	}
}
