package collector_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/families"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/scrapetest"
)

// scrapeUntil scrapes until ok holds or 10 s pass, and returns the last result.
func scrapeUntil(t *testing.T, sc *scrapetest.Scraper, ok func(families.Result) bool) (families.Result, bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := sc.Scrape(t)
		r.RequireUp(t)
		if ok(r) {
			return r, true
		}
		if time.Now().After(deadline) {
			return r, false
		}
		sleep(50)
	}
}

func TestLocksBlockedSessionAndGrowingWait(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	ctx := context.Background()
	if err := s.CreateDatabase(ctx, "locktest"); err != nil {
		t.Fatal(err)
	}
	if err := s.Exec(ctx, "locktest", "DROP TABLE IF EXISTS blk",
		"CREATE TABLE blk (id int PRIMARY KEY, v int)", "INSERT INTO blk VALUES (1, 0), (2, 0)"); err != nil {
		t.Fatal(err)
	}
	holder := session(t, s, "locktest", "lock-holder")
	waiter := session(t, s, "locktest", "lock-waiter")
	exec(t, holder, "SELECT pg_advisory_lock(4242)", "BEGIN", "UPDATE blk SET v = v + 1 WHERE id = 1")
	done := make(chan error, 1)
	go func() {
		_, err := waiter.Exec(ctx, "UPDATE blk SET v = v + 1 WHERE id = 1")
		done <- err
	}()

	sc := scrapetest.New(t, s.SuperuserDSN(""), nil, "locks")
	r1, ok := scrapeUntil(t, sc, func(r families.Result) bool { v, _ := r.Value("pg_locks_blocked_sessions", nil); return v == 1 })
	if !ok {
		t.Fatalf("no blocked session seen:\n%s", r1.String("pg_locks_blocked_sessions"))
	}
	if v, _ := r1.Value("pg_locks_blocking_sessions", nil); v != 1 {
		t.Errorf("blocking sessions %v, want 1", v)
	}
	if v, _ := r1.Value("pg_locks_waiting_sessions", nil); v != 1 {
		t.Errorf("waiting sessions %v, want 1", v)
	}
	// The waiter waits for the holder's transaction ID.
	if v, _ := r1.Value("pg_locks", map[string]string{"locktype": "transactionid", "mode": "ShareLock", "granted": "false"}); v != 1 {
		t.Errorf("waiting ShareLock on a transaction ID: %v\n%s", v, r1.String("pg_locks"))
	}
	if v, _ := r1.Value("pg_locks_advisory_held", nil); v != 1 {
		t.Errorf("advisory locks held %v, want 1", v)
	}
	w1, _ := r1.Value("pg_locks_max_wait_duration_seconds", nil)
	sleep(600)
	r2 := sc.Scrape(t)
	w2, _ := r2.Value("pg_locks_max_wait_duration_seconds", nil)
	if w2 < w1+0.5 {
		t.Errorf("longest wait went from %v to %v over 0.6 s", w1, w2)
	}

	exec(t, holder, "ROLLBACK", "SELECT pg_advisory_unlock(4242)")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r3, ok := scrapeUntil(t, sc, func(r families.Result) bool { v, _ := r.Value("pg_locks_blocked_sessions", nil); return v == 0 })
	if !ok {
		t.Fatal("blocked session still reported after the holder rolled back")
	}
	for _, name := range []string{"pg_locks_blocking_sessions", "pg_locks_waiting_sessions", "pg_locks_advisory_held", "pg_locks_max_wait_duration_seconds"} {
		if v, _ := r3.Value(name, nil); v != 0 {
			t.Errorf("%s = %v after the holder rolled back", name, v)
		}
	}
}

func TestDeadlockIsCountedAndBlockingClears(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	ctx := context.Background()
	if err := s.CreateDatabase(ctx, "deadlocktest"); err != nil {
		t.Fatal(err)
	}
	if err := s.Exec(ctx, "deadlocktest", "DROP TABLE IF EXISTS dl",
		"CREATE TABLE dl (id int PRIMARY KEY, v int)", "INSERT INTO dl VALUES (1, 0), (2, 0)"); err != nil {
		t.Fatal(err)
	}
	sc := scrapetest.New(t, s.SuperuserDSN(""), nil, "database", "locks")
	db := map[string]string{"datname": "deadlocktest"}
	before := sc.Scrape(t)
	before.RequireUp(t)
	d0, ok := before.Value("pg_stat_database_deadlocks_total", db)
	if !ok {
		t.Fatal("no deadlock counter for deadlocktest")
	}

	a := session(t, s, "deadlocktest", "deadlock-a")
	b := session(t, s, "deadlocktest", "deadlock-b")
	exec(t, a, "SET deadlock_timeout = '100ms'", "BEGIN", "UPDATE dl SET v = 1 WHERE id = 1")
	exec(t, b, "SET deadlock_timeout = '100ms'", "BEGIN", "UPDATE dl SET v = 2 WHERE id = 2")
	errs := make(chan error, 2)
	go func() {
		_, err := a.Exec(ctx, "UPDATE dl SET v = 1 WHERE id = 2")
		errs <- err
	}()
	// b closes the cycle only once a waits for it.
	if r, ok := scrapeUntil(t, sc, func(r families.Result) bool { v, _ := r.Value("pg_locks_blocked_sessions", nil); return v == 1 }); !ok {
		t.Fatalf("session a never waited for b:\n%s", r.String("pg_locks_blocked_sessions"))
	}
	go func() {
		_, err := b.Exec(ctx, "UPDATE dl SET v = 2 WHERE id = 1")
		errs <- err
	}()
	var deadlocks int
	for range 2 {
		var pgErr *pgconn.PgError
		if err := <-errs; errors.As(err, &pgErr) && pgErr.Code == "40P01" {
			deadlocks++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if deadlocks != 1 {
		t.Fatalf("%d sessions were chosen as deadlock victims, want 1", deadlocks)
	}
	exec(t, a, "ROLLBACK")
	exec(t, b, "ROLLBACK")
	// A backend's statistics reach pg_stat_database at the latest when it exits.
	a.Close(ctx)
	b.Close(ctx)

	after, ok := scrapeUntil(t, sc, func(r families.Result) bool {
		v, _ := r.Value("pg_stat_database_deadlocks_total", db)
		return v >= d0+1
	})
	if !ok {
		d1, _ := after.Value("pg_stat_database_deadlocks_total", db)
		t.Fatalf("deadlocks went from %v to %v after one deadlock", d0, d1)
	}
	for _, name := range []string{"pg_locks_blocked_sessions", "pg_locks_blocking_sessions", "pg_locks_waiting_sessions"} {
		if v, _ := after.Value(name, nil); v != 0 {
			t.Errorf("%s = %v after the deadlock was resolved", name, v)
		}
	}
}
