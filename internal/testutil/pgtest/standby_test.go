package pgtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
)

// A standby made from the shared cluster is in recovery, streams from it
// under the documented application_name, and replays what the primary writes.
func TestStandbyOf(t *testing.T) {
	primary := pgtest.RequireServer(t, shared)
	ctx := ctxT(t)
	standby := pgtest.StartT(t, pgtest.Options{StandbyOf: primary})
	if standby.Port == primary.Port || standby.DataDir == primary.DataDir {
		t.Fatalf("standby shares port or data directory with the primary")
	}
	if standby.Major != primary.Major {
		t.Fatalf("standby major %d, primary %d", standby.Major, primary.Major)
	}
	sc, err := standby.Connect(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close(context.Background())
	var inRecovery bool
	if err := sc.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil || !inRecovery {
		t.Fatalf("standby in recovery = %v, %v", inRecovery, err)
	}
	if err := primary.Exec(ctx, "", "DROP TABLE IF EXISTS standby_probe", "CREATE TABLE standby_probe AS SELECT 42 AS v"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var v int
		err := sc.QueryRow(ctx, "SELECT v FROM standby_probe").Scan(&v)
		if err == nil && v == 42 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the standby did not replay the primary's table within 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	pc, err := primary.Connect(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(context.Background())
	var state string
	if err := pc.QueryRow(ctx, "SELECT state FROM pg_stat_replication WHERE application_name = $1", pgtest.StandbyApplicationName).Scan(&state); err != nil || state != "streaming" {
		t.Fatalf("primary sees standby state %q, %v", state, err)
	}
}
