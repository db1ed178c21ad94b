package collector_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/families"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/scrapetest"
)

// waitFor scrapes until cond holds or 30 s pass, and returns the last result.
func waitFor(t *testing.T, sc *scrapetest.Scraper, what string, cond func(families.Result) bool) families.Result {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := sc.Scrape(t)
		r.RequireUp(t)
		if cond(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s still not: %s", what)
		}
		sleep(100)
	}
}

func mustValue(t *testing.T, r families.Result, name string, labels map[string]string) float64 {
	t.Helper()
	v, ok := r.Value(name, labels)
	if !ok {
		t.Fatalf("%s%v: want exactly one series\n%s", name, labels, r.String(name))
	}
	return v
}

// A private primary (archiving to a failing command, a slot-size cap) and a
// streaming standby made from it, both scraped as a pg_monitor-only role.
func TestReplicationSlotsAndArchiving(t *testing.T) {
	pgtest.RequireServer(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	primary := pgtest.StartT(t, pgtest.Options{Conf: []string{
		"archive_mode = on",
		"archive_command = 'false'",
		"max_slot_wal_keep_size = '1GB'",
		"max_prepared_transactions = 10",
	}})
	monDSN, err := primary.CreateMonitorRole(ctx, "repl_monitor", "replpw")
	if err != nil {
		t.Fatal(err)
	}
	standby := pgtest.StartT(t, pgtest.Options{StandbyOf: primary})
	if os.Getenv("REPL_DEBUG") != "" {
		scrapetest.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	onPrimary := scrapetest.New(t, monDSN, nil, "replication", "replication_slots", "archiver")
	onStandby := scrapetest.New(t, standby.DSN("repl_monitor", "replpw", "postgres"), nil, "replication", "replication_slots", "archiver")
	app := map[string]string{"application_name": pgtest.StandbyApplicationName}

	t.Run("roles", func(t *testing.T) {
		r := waitFor(t, onPrimary, "one streaming standby on the primary", func(r families.Result) bool {
			v, _ := r.Value("pg_replication_connected_standbys", nil)
			s, _ := r.Value("pg_replication_standby_state", map[string]string{"application_name": pgtest.StandbyApplicationName, "state": "streaming"})
			return v == 1 && s == 1
		})
		if v := mustValue(t, r, "pg_replication_is_replica", nil); v != 0 {
			t.Errorf("primary is_replica = %v", v)
		}
		if v := mustValue(t, r, "pg_replication_standby_connections", app); v != 1 {
			t.Errorf("standby connections = %v", v)
		}
		if v := mustValue(t, r, "pg_replication_standby_sync_state", map[string]string{"application_name": pgtest.StandbyApplicationName, "sync_state": "async"}); v != 1 {
			t.Errorf("sync_state async = %v", v)
		}
		if _, ok := r["pg_replication_replay_lag_seconds"]; ok {
			t.Error("a primary reports standby replay lag")
		}
		s := onStandby.Scrape(t)
		s.RequireUp(t)
		if v := mustValue(t, s, "pg_replication_is_replica", nil); v != 1 {
			t.Errorf("standby is_replica = %v", v)
		}
		if v := mustValue(t, s, "pg_replication_wal_receiver_connected", nil); v != 1 {
			t.Errorf("wal receiver connected = %v", v)
		}
		if v := mustValue(t, s, "pg_replication_wal_receiver_status", map[string]string{"status": "streaming"}); v != 1 {
			t.Errorf("wal receiver status streaming = %v", v)
		}
	})

	t.Run("lag", func(t *testing.T) {
		// A replayed commit first: the time lag is measured from the last one.
		if err := primary.Exec(ctx, "", "CREATE TABLE lag_first (i int)"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, onStandby, "a replayed transaction", func(r families.Result) bool {
			_, ok := r.Value("pg_replication_last_replay_timestamp_seconds", nil)
			return ok
		})
		// Pausing replay makes the lag last long enough to be seen.
		if err := standby.Exec(ctx, "", "SELECT pg_wal_replay_pause()"); err != nil {
			t.Fatal(err)
		}
		if err := primary.Exec(ctx, "", "CREATE TABLE lag_probe AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 20000) g"); err != nil {
			t.Fatal(err)
		}
		s := waitFor(t, onStandby, "received but unreplayed WAL on the paused standby", func(r families.Result) bool {
			v, _ := r.Value("pg_replication_replay_lag_bytes", nil)
			return v > 1<<20
		})
		if v := mustValue(t, s, "pg_replication_replay_lag_seconds", nil); v <= 0 {
			t.Errorf("paused standby with unreplayed WAL shows replay lag %v s", v)
		}
		p := waitFor(t, onPrimary, "replay byte lag on the primary", func(r families.Result) bool {
			v, _ := r.Value("pg_replication_standby_replay_lag_bytes", app)
			return v > 1<<20
		})
		if sent := mustValue(t, p, "pg_replication_standby_sent_lag_bytes", app); sent > mustValue(t, p, "pg_replication_standby_replay_lag_bytes", app) {
			t.Errorf("more WAL unsent (%v) than unreplayed", sent)
		}
		if err := standby.Exec(ctx, "", "SELECT pg_wal_replay_resume()"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, onStandby, "the standby catching up", func(r families.Result) bool {
			v, _ := r.Value("pg_replication_replay_lag_bytes", nil)
			return v == 0
		})
		waitFor(t, onPrimary, "the primary seeing the standby caught up", func(r families.Result) bool {
			v, _ := r.Value("pg_replication_standby_replay_lag_bytes", app)
			return v == 0
		})
		// Idle primary: the last replayed commit grows old, the lag stays 0.
		sleep(1500)
		for i := 0; i < 2; i++ {
			s := onStandby.Scrape(t)
			s.RequireUp(t)
			last := mustValue(t, s, "pg_replication_last_replay_timestamp_seconds", nil)
			if age := float64(time.Now().UnixNano())/1e9 - last; age < 1 {
				t.Fatalf("last replayed commit only %.2fs old; the idle check needs an older one", age)
			}
			if v := mustValue(t, s, "pg_replication_replay_lag_seconds", nil); v != 0 {
				t.Errorf("idle primary: standby replay lag %v s, want 0", v)
			}
			sleep(500)
		}
	})

	t.Run("slot", func(t *testing.T) {
		if err := primary.Exec(ctx, "", "SELECT pg_create_physical_replication_slot('held', true)"); err != nil {
			t.Fatal(err)
		}
		slot := map[string]string{"slot_name": "held", "slot_type": "physical"}
		r := onPrimary.Scrape(t)
		r.RequireUp(t)
		before := mustValue(t, r, "pg_replication_slot_retained_wal_bytes", slot)
		if v := mustValue(t, r, "pg_replication_slot_active", slot); v != 0 {
			t.Errorf("inactive slot active = %v", v)
		}
		if v := mustValue(t, r, "pg_replication_slot_wal_status", map[string]string{"slot_name": "held", "wal_status": "reserved"}); v != 1 {
			t.Errorf("wal_status reserved = %v", v)
		}
		if v := mustValue(t, r, "pg_replication_slot_safe_wal_size_bytes", slot); v <= 0 || v > 1<<30 {
			t.Errorf("safe_wal_size = %v, want within the 1GB cap", v)
		}
		if err := primary.Exec(ctx, "", "CREATE TABLE slot_probe AS SELECT g FROM generate_series(1, 50000) g", "SELECT pg_switch_wal()"); err != nil {
			t.Fatal(err)
		}
		r = onPrimary.Scrape(t)
		r.RequireUp(t)
		after := mustValue(t, r, "pg_replication_slot_retained_wal_bytes", slot)
		conn, err := primary.Connect(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var want float64
		if err := conn.QueryRow(ctx, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::float8 FROM pg_replication_slots WHERE slot_name = 'held'").Scan(&want); err != nil {
			t.Fatal(err)
		}
		if after <= before+1<<20 || after > want {
			t.Errorf("retained WAL went from %v to %v bytes; the server says %v now", before, after, want)
		}
		if v := mustValue(t, r, "pg_replication_slots", map[string]string{"slot_type": "physical", "active": "0"}); v != 1 {
			t.Errorf("inactive physical slots = %v", v)
		}
	})

	t.Run("archiving", func(t *testing.T) {
		if err := primary.Exec(ctx, "", "SELECT pg_switch_wal()"); err != nil {
			t.Fatal(err)
		}
		r := waitFor(t, onPrimary, "archive_command 'false' failing", func(r families.Result) bool {
			f, _ := r.Value("pg_stat_archiver_failed_total", nil)
			v, _ := r.Value("pg_stat_archiver_failing", nil)
			return f >= 1 && v == 1
		})
		failed := mustValue(t, r, "pg_stat_archiver_failed_total", nil)
		if v := mustValue(t, r, "pg_wal_archive_ready_files", nil); v < 1 {
			t.Errorf(".ready backlog = %v while archiving fails", v)
		}
		if v := mustValue(t, r, "pg_wal_archive_ready_oldest_timestamp_seconds", nil); v <= 0 || v > float64(time.Now().Unix()+5) {
			t.Errorf("oldest .ready timestamp = %v", v)
		}
		if v := mustValue(t, r, "pg_wal_archive_mode_enabled", nil); v != 1 {
			t.Errorf("archive mode enabled = %v", v)
		}
		if v := mustValue(t, r, "pg_wal_directory_size_bytes", nil); v < 16<<20 {
			t.Errorf("WAL directory size %v is less than one segment", v)
		}
		pos := mustValue(t, r, "pg_wal_lsn_bytes_total", nil)
		waitFor(t, onPrimary, "the failed counter rising further", func(r families.Result) bool {
			f, _ := r.Value("pg_stat_archiver_failed_total", nil)
			return f > failed
		})

		dir, err := os.MkdirTemp("", "archive-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		cmd := fmt.Sprintf("test ! -f %s/%%f && cp %%p %s/%%f", dir, dir)
		if err := primary.Exec(ctx, "", "ALTER SYSTEM SET archive_command = '"+cmd+"'", "SELECT pg_reload_conf()",
			"CREATE TABLE archive_probe AS SELECT 1 AS i", "SELECT pg_switch_wal()"); err != nil {
			t.Fatal(err)
		}
		r = waitFor(t, onPrimary, "archiving recovered", func(r families.Result) bool {
			v, _ := r.Value("pg_stat_archiver_failing", nil)
			n, _ := r.Value("pg_wal_archive_ready_files", nil)
			return v == 0 && n == 0
		})
		if v := mustValue(t, r, "pg_stat_archiver_archived_total", nil); v < 1 {
			t.Errorf("archived = %v after recovery", v)
		}
		if files, _ := filepath.Glob(filepath.Join(dir, "0*")); len(files) == 0 {
			t.Error("the working archive_command archived nothing")
		}
		if _, ok := r["pg_wal_archive_ready_oldest_timestamp_seconds"]; ok {
			t.Error("oldest .ready timestamp reported with an empty backlog")
		}
		if v := mustValue(t, r, "pg_wal_lsn_bytes_total", nil); v <= pos {
			t.Errorf("WAL position did not advance: %v then %v", pos, v)
		}
		// Everything written was switched out and archived; a small write
		// after that is at risk although no WAL file is complete.
		waitFor(t, onPrimary, "no WAL written after the last archived file", func(r families.Result) bool {
			v, ok := r.Value("pg_wal_unarchived_bytes", nil)
			return ok && v == 0
		})
		if err := primary.Exec(ctx, "", "INSERT INTO archive_probe VALUES (2)"); err != nil {
			t.Fatal(err)
		}
		r = waitFor(t, onPrimary, "the small write counted as unarchived", func(r families.Result) bool {
			v, _ := r.Value("pg_wal_unarchived_bytes", nil)
			return v > 0
		})
		if v := mustValue(t, r, "pg_wal_unarchived_bytes", nil); v >= 16<<20 {
			t.Errorf("unarchived WAL %v after one small insert is a segment or more", v)
		}
		s := onStandby.Scrape(t)
		s.RequireUp(t)
		if _, ok := s["pg_wal_unarchived_bytes"]; ok {
			t.Error("a standby reports unarchived WAL")
		}
		if v := mustValue(t, s, "pg_wal_lsn_bytes_total", nil); v <= 0 || v > mustValue(t, r, "pg_wal_lsn_bytes_total", nil) {
			t.Errorf("standby WAL position %v is not within the primary's", v)
		}
	})
}
