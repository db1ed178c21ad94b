package collector_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/families"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/scrapetest"
)

// A primary and its standby run the same server-wide settings: equal
// hashes, though port, data directory and primary_conninfo differ. A reloaded
// change on one makes them differ; a reloaded change of a restart-only
// setting is pending; broken lines in postgresql.conf and pg_hba.conf are
// counted where the role may read the files' views, and said unreadable
// where not.
func TestSettingsDrift(t *testing.T) {
	pgtest.RequireServer(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	primary := pgtest.StartT(t, pgtest.Options{Conf: []string{"work_mem = '4MB'"}})
	// The role exists before the standby is copied from the primary.
	monDSN, err := primary.CreateMonitorRole(ctx, "drift_monitor", "driftpw")
	if err != nil {
		t.Fatal(err)
	}
	standby := pgtest.StartT(t, pgtest.Options{StandbyOf: primary})
	onPrimary := scrapetest.New(t, monDSN, nil, "config_drift", "postmaster")
	onStandby := scrapetest.New(t, standby.DSN("drift_monitor", "driftpw", "postgres"), nil, "config_drift")
	super := scrapetest.New(t, primary.SuperuserDSN(""), nil, "config_drift")
	scrape := func(sc *scrapetest.Scraper) families.Result {
		t.Helper()
		r := sc.Scrape(t)
		r.RequireUp(t)
		return r
	}
	hash := func(sc *scrapetest.Scraper) float64 { return mustValue(t, scrape(sc), "pg_settings_hash", nil) }

	p, s := scrape(onPrimary), scrape(onStandby)
	s0 := s
	if hp, hs := mustValue(t, p, "pg_settings_hash", nil), mustValue(t, s, "pg_settings_hash", nil); hp != hs || hp == 0 || hp >= 1<<53 {
		t.Fatalf("primary and standby hashes %v and %v; want one value below 2^53", hp, hs)
	}
	if v := mustValue(t, p, "pg_settings_pending_restarts", nil); v != 0 {
		t.Errorf("pending restarts on a fresh server = %v", v)
	}
	fromFile := mustValue(t, s, "pg_settings_non_default", map[string]string{"source": "configuration file"})
	for _, view := range []string{"pg_file_settings", "pg_hba_file_rules"} {
		if v := mustValue(t, p, "pg_config_files_readable", map[string]string{"view": view}); v != 0 {
			t.Errorf("%s readable = %v for a pg_monitor-only role", view, v)
		}
	}
	for _, fam := range []string{"pg_settings_file_errors", "pg_hba_file_rules_errors"} {
		if _, ok := p[fam]; ok {
			t.Errorf("%s reported although the role may not read its view", fam)
		}
	}
	r := scrape(super)
	if v := mustValue(t, r, "pg_settings_file_errors", nil) + mustValue(t, r, "pg_hba_file_rules_errors", nil); v != 0 {
		t.Errorf("errors in the harness's own files: %v", v)
	}

	// A setting changed on the standby alone.
	if err := standby.Exec(ctx, "", "ALTER SYSTEM SET work_mem = '8MB'", "SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
	s = waitFor(t, onStandby, "the standby's hash changed", func(r families.Result) bool {
		v, _ := r.Value("pg_settings_hash", nil)
		return v != hash(onPrimary)
	})
	if v := mustValue(t, s, "pg_settings_non_default", map[string]string{"source": "configuration file"}); v != fromFile {
		// work_mem came from a file before and still does.
		t.Errorf("settings from files went from %v to %v\n%s\n%s", fromFile, v, s0.String("pg_settings_non_default"), s.String("pg_settings_non_default"))
	}
	if err := standby.Exec(ctx, "", "ALTER SYSTEM RESET work_mem", "SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, onStandby, "the hashes equal again", func(r families.Result) bool {
		v, _ := r.Value("pg_settings_hash", nil)
		return v == hash(onPrimary)
	})

	// A restart-only setting, changed and reloaded.
	if err := primary.Exec(ctx, "", "ALTER SYSTEM SET max_connections = 150", "SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
	p = waitFor(t, onPrimary, "max_connections pending a restart", func(r families.Result) bool {
		v, _ := r.Value("pg_settings_pending_restart", map[string]string{"name": "max_connections"})
		return v == 1
	})
	if v := mustValue(t, p, "pg_settings_pending_restarts", nil); v != 1 {
		t.Errorf("pending restarts = %v", v)
	}
	if v := mustValue(t, scrape(super), "pg_settings_file_errors", nil); v != 0 {
		t.Errorf("a change waiting for a restart counted as %v file errors", v)
	}

	// Broken lines, as an editor would leave them.
	appendLine(t, filepath.Join(primary.DataDir, "postgresql.conf"), "work_mem = 'plenty'")
	appendLine(t, filepath.Join(primary.DataDir, "pg_hba.conf"), "host all all 127.0.0.1/32 no-such-method")
	r = scrape(super)
	if v := mustValue(t, r, "pg_settings_file_errors", nil); v != 1 {
		t.Errorf("file errors = %v, want the invalid work_mem", v)
	}
	if v := mustValue(t, r, "pg_hba_file_rules_errors", nil); v != 1 {
		t.Errorf("pg_hba.conf errors = %v, want the unknown method", v)
	}

	// The documented grants let a pg_monitor role count them too. A scrape
	// first: a session handles a reload at its next statement, so the scrape
	// that saw max_connections pending may have read the facts just before
	// its session did; this one notices the reload, reads the facts again
	// and remembers the refusal.
	scrape(onPrimary)
	if err := primary.Exec(ctx, "",
		"GRANT SELECT ON pg_file_settings TO drift_monitor", "GRANT EXECUTE ON FUNCTION pg_show_all_file_settings() TO drift_monitor",
		"GRANT SELECT ON pg_hba_file_rules TO drift_monitor", "GRANT EXECUTE ON FUNCTION pg_hba_file_rules() TO drift_monitor"); err != nil {
		t.Fatal(err)
	}
	// The refusal is remembered until the server's settings are read again:
	// a configuration reload, as the documentation says. A new session is
	// not a reload, though its pg_conf_load_time() differs from that of a
	// session that was open during the last one: the pooled sessions are
	// closed so that the next scrape opens another.
	loaded := mustValue(t, scrape(onPrimary), "pg_config_load_timestamp_seconds", nil)
	onPrimary.Target.Pool.EvictIdle(time.Now().Add(24 * time.Hour))
	if st := onPrimary.Target.Pool.Stats(); st.Idle+st.InUse != 0 {
		t.Fatalf("pooled sessions left open: %+v", st)
	}
	for _, view := range []string{"pg_file_settings", "pg_hba_file_rules"} {
		r := scrape(onPrimary)
		if v := mustValue(t, r, "pg_config_files_readable", map[string]string{"view": view}); v != 0 {
			t.Errorf("%s readable = %v right after the grants, before the answer remembered was read again", view, v)
		}
		if v := mustValue(t, r, "pg_config_load_timestamp_seconds", nil); v > loaded {
			t.Errorf("configuration load time went from %v to %v in a new session without a reload", loaded, v)
		}
	}
	if st := onPrimary.Target.Pool.Stats(); st.Connects < 2 {
		t.Fatalf("the scrapes after the eviction reused a session: %+v", st)
	}
	if err := primary.Exec(ctx, "", "SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
	p = waitFor(t, onPrimary, "both views readable after the grants and a reload", func(r families.Result) bool {
		a, _ := r.Value("pg_config_files_readable", map[string]string{"view": "pg_file_settings"})
		b, _ := r.Value("pg_config_files_readable", map[string]string{"view": "pg_hba_file_rules"})
		return a == 1 && b == 1
	})
	if v := mustValue(t, p, "pg_settings_file_errors", nil) + mustValue(t, p, "pg_hba_file_rules_errors", nil); v != 2 {
		t.Errorf("the granted role counts %v errors, want 2", v)
	}
}

func appendLine(t *testing.T, path, line string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("\n" + line + "\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
