package collector_test

import (
	"context"
	"testing"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/scrapetest"
)

func TestPreparedTransactionAndSnapshotHoldTheHorizon(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	ctx := context.Background()
	if err := s.CreateDatabase(ctx, "wraptest"); err != nil {
		t.Fatal(err)
	}
	if err := s.Exec(ctx, "wraptest", "DROP TABLE IF EXISTS w", "CREATE TABLE w (id int)"); err != nil {
		t.Fatal(err)
	}
	sc := scrapetest.New(t, s.SuperuserDSN(""), nil, "wraparound")
	r0 := sc.Scrape(t)
	r0.RequireUp(t)
	if n, _ := r0.Value("pg_prepared_transactions", nil); n != 0 {
		t.Fatalf("%v prepared transactions before the test prepared one", n)
	}

	prep := session(t, s, "wraptest", "prepare-test")
	exec(t, prep, "BEGIN", "INSERT INTO w VALUES (1)", "PREPARE TRANSACTION 'pg_hardening_wraptest'")
	t.Cleanup(func() {
		_ = s.Exec(context.Background(), "wraptest", "ROLLBACK PREPARED 'pg_hardening_wraptest'")
	})
	snap := session(t, s, "wraptest", "snapshot-test")
	exec(t, snap, "BEGIN ISOLATION LEVEL REPEATABLE READ", "SELECT count(*) FROM w")
	// Five more transaction IDs: both holders fall at least five behind.
	other := session(t, s, "wraptest", "xid-burner")
	for range 5 {
		exec(t, other, "INSERT INTO w VALUES (2)")
	}
	sleep(1100)

	r := sc.Scrape(t)
	r.RequireUp(t)
	if n, _ := r.Value("pg_prepared_transactions", nil); n != 1 {
		t.Errorf("prepared transactions %v, want 1", n)
	}
	if age, _ := r.Value("pg_prepared_transactions_max_age_seconds", nil); age < 1.1 || age > 60 {
		t.Errorf("prepared transaction age %v s, want about 1.1", age)
	}
	var xidAge, frozenAge, freezeMax, mxFreezeMax float64
	if err := other.QueryRow(ctx, `SELECT (SELECT age(transaction) FROM pg_prepared_xacts WHERE gid = 'pg_hardening_wraptest')::float8,
		(SELECT age(datfrozenxid) FROM pg_database WHERE datname = 'wraptest')::float8,
		current_setting('autovacuum_freeze_max_age')::float8, current_setting('autovacuum_multixact_freeze_max_age')::float8`).
		Scan(&xidAge, &frozenAge, &freezeMax, &mxFreezeMax); err != nil {
		t.Fatal(err)
	}
	prepared, _ := r.Value("pg_xmin_horizon_age", map[string]string{"holder": "prepared_transaction"})
	if prepared < 6 || prepared != xidAge {
		t.Errorf("prepared transaction horizon age %v, want %v (6 or more)", prepared, xidAge)
	}
	// The snapshot was taken after the prepared transaction began and before the five inserts.
	backend, _ := r.Value("pg_xmin_horizon_age", map[string]string{"holder": "backend"})
	if backend < 5 || backend > prepared {
		t.Errorf("backend horizon age %v, want 5 to %v", backend, prepared)
	}
	if v, ok := r.Value("pg_xmin_horizon_age", map[string]string{"holder": "replication_slot"}); !ok || v != 0 {
		t.Errorf("replication slot horizon %v (present %v) on a server without slots", v, ok)
	}
	frozen, _ := r.Value("pg_database_wraparound_age_datfrozenxid", map[string]string{"datname": "wraptest"})
	if frozen != frozenAge || frozen < prepared {
		t.Errorf("age(datfrozenxid) %v, want %v and no less than the prepared transaction's %v", frozen, frozenAge, prepared)
	}
	if _, ok := r.Value("pg_database_wraparound_age_datminmxid", map[string]string{"datname": "template0"}); !ok {
		t.Error("template0 has no multixact age; it must be watched too")
	}
	if v, _ := r.Value("pg_database_wraparound_freeze_max_age", nil); v != freezeMax {
		t.Errorf("freeze max age %v, want %v", v, freezeMax)
	}
	if v, _ := r.Value("pg_database_wraparound_multixact_freeze_max_age", nil); v != mxFreezeMax {
		t.Errorf("multixact freeze max age %v, want %v", v, mxFreezeMax)
	}

	exec(t, snap, "COMMIT")
	if err := s.Exec(ctx, "wraptest", "ROLLBACK PREPARED 'pg_hardening_wraptest'"); err != nil {
		t.Fatal(err)
	}
	r = sc.Scrape(t)
	if n, _ := r.Value("pg_prepared_transactions", nil); n != 0 {
		t.Errorf("prepared transactions %v after ROLLBACK PREPARED", n)
	}
	if v, _ := r.Value("pg_xmin_horizon_age", map[string]string{"holder": "prepared_transaction"}); v != 0 {
		t.Errorf("prepared transaction horizon %v after ROLLBACK PREPARED", v)
	}
}
