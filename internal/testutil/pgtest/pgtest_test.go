package pgtest_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
)

// shared is the package's cluster, with pg_stat_statements preloaded.
var shared *pgtest.Server

const crashHelperEnv = "PGTEST_CRASH_HELPER"

func TestMain(m *testing.M) {
	os.Exit(pgtest.RunMain(m, pgtest.Options{
		Conf: []string{
			"shared_preload_libraries = 'pg_stat_statements'",
			"max_prepared_transactions = 10",
		},
	}, &shared))
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false
	}
	return s[i+2] != 'Z' && s[i+2] != 'X'
}

func waitGone(t *testing.T, pid int, paths ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var left []string
		if pid > 0 && alive(pid) {
			left = append(left, fmt.Sprintf("process %d", pid))
		}
		for _, p := range paths {
			if _, err := os.Lstat(p); err == nil {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still present: %s", strings.Join(left, ", "))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func queryBool(t *testing.T, ctx context.Context, conn *pgx.Conn, sql string) bool {
	t.Helper()
	var v bool
	if err := conn.QueryRow(ctx, sql).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

func TestLifecycle(t *testing.T) {
	var logBuf bytes.Buffer
	s := pgtest.StartT(t, pgtest.Options{Logger: &logBuf})
	ctx := ctxT(t)

	if s.Major < 13 || s.Major > 18 {
		t.Errorf("Major = %d, want 13..18", s.Major)
	}
	if !strings.HasPrefix(s.Version, strconv.Itoa(s.Major)) {
		t.Errorf("Version %q does not start with Major %d", s.Version, s.Major)
	}
	t.Logf("PostgreSQL %s from %s on port %d", s.Version, s.BinDir, s.Port)
	base := filepath.Dir(s.DataDir)
	for _, d := range []string{s.DataDir, s.SocketDir} {
		fi, err := os.Stat(d)
		if err != nil || !fi.IsDir() {
			t.Fatalf("%s: %v", d, err)
		}
		if !strings.HasPrefix(d, base+string(filepath.Separator)) {
			t.Errorf("%s is not inside %s", d, base)
		}
	}
	if _, err := os.Stat(filepath.Join(s.SocketDir, fmt.Sprintf(".s.PGSQL.%d", s.Port))); err != nil {
		t.Errorf("no Unix socket in SocketDir: %v", err)
	}

	conn, err := s.Connect(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var num string
	if err := conn.QueryRow(ctx, "SHOW server_version_num").Scan(&num); err != nil {
		t.Fatal(err)
	}
	if n, _ := strconv.Atoi(num); n/10000 != s.Major {
		t.Errorf("server_version_num %s does not match Major %d", num, s.Major)
	}
	if !queryBool(t, ctx, conn, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user") {
		t.Error("superuser connection is not a superuser")
	}
	var fsync, listen string
	if err := conn.QueryRow(ctx, "SELECT current_setting('fsync'), current_setting('listen_addresses')").Scan(&fsync, &listen); err != nil {
		t.Fatal(err)
	}
	if fsync != "off" || listen != "127.0.0.1" {
		t.Errorf("fsync=%q listen_addresses=%q", fsync, listen)
	}
	conn.Close(ctx)

	if err := s.CreateDatabase(ctx, "app db"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateDatabase(ctx, "app db"); err != nil {
		t.Fatalf("second CreateDatabase: %v", err)
	}
	if err := s.Exec(ctx, "app db",
		"CREATE TABLE t (id int PRIMARY KEY)",
		"INSERT INTO t VALUES (1), (2)",
	); err != nil {
		t.Fatal(err)
	}
	err = s.Exec(ctx, "app db", "SELECT 1", "SELECT * FROM no_such_table")
	if err == nil || !strings.Contains(err.Error(), "no_such_table") {
		t.Errorf("Exec error should name the failing statement, got %v", err)
	}

	pid := s.PID()
	if pid <= 0 || !alive(pid) {
		t.Fatalf("PID() = %d, not a running process", pid)
	}

	if err := s.StopServer(); err != nil {
		t.Fatal(err)
	}
	if err := s.StopServer(); err != nil {
		t.Fatalf("second StopServer: %v", err)
	}
	waitGone(t, pid)
	shortCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if c, err := s.Connect(shortCtx, ""); err == nil {
		c.Close(ctx)
		t.Fatal("connection succeeded while the server is stopped")
	}
	cancel()
	if _, err := os.Stat(filepath.Join(s.DataDir, "PG_VERSION")); err != nil {
		t.Fatalf("StopServer should keep the data: %v", err)
	}

	port := s.Port
	if err := s.StartServer(); err != nil {
		t.Fatal(err)
	}
	if s.Port != port {
		t.Errorf("port changed from %d to %d", port, s.Port)
	}
	conn, err = pgx.Connect(ctx, s.DSN("postgres", s.SuperuserPassword(), "app db"))
	if err != nil {
		t.Fatalf("connect after StartServer: %v", err)
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 2 {
		t.Errorf("rows after restart: %d, %v", n, err)
	}
	conn.Close(ctx)

	// A postmaster that dies on its own is noticed and restarted.
	pid = s.PID()
	if err := syscall.Kill(pid, syscall.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid)
	if err := s.StartServer(); err != nil {
		t.Fatalf("StartServer after the postmaster died: %v", err)
	}
	if err := s.Exec(ctx, "app db", "SELECT count(*) FROM t"); err != nil {
		t.Fatalf("query after restart from a crash: %v", err)
	}

	if tail := s.LogTail(5); tail == "" || strings.Count(tail, "\n") > 4 {
		t.Errorf("LogTail(5) = %q", tail)
	}

	pid = s.PID()
	s.Cleanup()
	s.Cleanup()
	waitGone(t, pid, s.DataDir, s.SocketDir, base)
	if err := s.StartServer(); err == nil {
		t.Error("StartServer after Cleanup succeeded")
	}
	if logBuf.Len() != 0 {
		t.Errorf("Logger got output although nothing failed:\n%s", logBuf.String())
	}
}

func TestMonitorRole(t *testing.T) {
	s := pgtest.RequireServer(t, shared)
	ctx := ctxT(t)

	name, password := "mon itor", `p@ss:w/rd?#%& '"\x`
	dsn, err := s.CreateMonitorRole(ctx, name, password)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.User != name || cfg.Password != password || cfg.Database != "postgres" || cfg.Port != uint16(s.Port) {
		t.Fatalf("DSN %s parses to user=%q password=%q db=%q port=%d", dsn, cfg.User, cfg.Password, cfg.Database, cfg.Port)
	}

	check := func(dsn string) {
		t.Helper()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatalf("connect as monitor role: %v", err)
		}
		defer conn.Close(ctx)
		var user string
		if err := conn.QueryRow(ctx, "SELECT current_user").Scan(&user); err != nil || user != name {
			t.Fatalf("current_user = %q, %v", user, err)
		}
		if !queryBool(t, ctx, conn, "SELECT pg_has_role(current_user, 'pg_monitor', 'member')") {
			t.Error("role is not a member of pg_monitor")
		}
		if queryBool(t, ctx, conn, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user") {
			t.Error("role is a superuser")
		}
		var others int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
			WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = current_user) AND r.rolname <> 'pg_monitor'`).Scan(&others); err != nil {
			t.Fatal(err)
		}
		if others != 0 {
			t.Errorf("role holds %d memberships besides pg_monitor", others)
		}
	}
	check(dsn)

	// Idempotent, and a new password takes effect.
	dsn2, err := s.CreateMonitorRole(ctx, name, "second")
	if err != nil {
		t.Fatalf("second CreateMonitorRole: %v", err)
	}
	check(dsn2)
	if c, err := pgx.Connect(ctx, dsn); err == nil {
		c.Close(ctx)
		t.Error("old password still works")
	}
	if c, err := pgx.Connect(ctx, s.DSN(name, "wrong", "postgres")); err == nil {
		c.Close(ctx)
		t.Error("wrong password accepted: host connections should need scram-sha-256")
	}
}

func TestPgStatStatements(t *testing.T) {
	s := pgtest.RequireServer(t, shared)
	ctx := ctxT(t)

	if err := s.Exec(ctx, "", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
		t.Fatal(err)
	}
	conn, err := s.Connect(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var preload, prepared string
	if err := conn.QueryRow(ctx, "SELECT current_setting('shared_preload_libraries'), current_setting('max_prepared_transactions')").Scan(&preload, &prepared); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(preload, "pg_stat_statements") || prepared != "10" {
		t.Errorf("Options.Conf not applied: shared_preload_libraries=%q max_prepared_transactions=%q", preload, prepared)
	}
	if _, err := conn.Exec(ctx, "SELECT 42 AS pgtest_marker"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_statements WHERE query LIKE '%pgtest_marker%'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Error("pg_stat_statements did not record the query")
	}
}

// usableTempDir returns a fresh directory for TMPDIR that the unprivileged
// user can search when the tests run as root.
func usableTempDir(t *testing.T) string {
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind: %s", filepath.Join(dir, e.Name()))
	}
}

func TestStartFailureCleansUp(t *testing.T) {
	pgtest.RequireBinaries(t)
	tmp := usableTempDir(t)
	t.Setenv("TMPDIR", tmp)

	var logBuf bytes.Buffer
	s, err := pgtest.Start(pgtest.Options{Conf: []string{"no_such_setting_xyz = 1"}, Logger: &logBuf})
	if err == nil {
		s.Cleanup()
		t.Fatal("Start succeeded with an invalid setting")
	}
	if !strings.Contains(err.Error(), "no_such_setting_xyz") {
		t.Errorf("error does not include the server log:\n%v", err)
	}
	if !strings.Contains(logBuf.String(), "no_such_setting_xyz") {
		t.Errorf("Logger did not get the server log:\n%s", logBuf.String())
	}
	assertEmpty(t, tmp)
}

func TestUnreachableTempDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only matters when the tests run as root")
	}
	pgtest.RequireBinaries(t)
	tmp := t.TempDir() // 0700, owned by root
	t.Setenv("TMPDIR", tmp)
	s, err := pgtest.Start(pgtest.Options{})
	if err == nil {
		s.Cleanup()
		t.Fatal("Start succeeded in a directory the server user cannot reach")
	}
	if !strings.Contains(err.Error(), "TMPDIR") {
		t.Errorf("error should suggest TMPDIR: %v", err)
	}
	assertEmpty(t, tmp)
}

func TestLongTempDir(t *testing.T) {
	pgtest.RequireBinaries(t)
	tmp := filepath.Join(usableTempDir(t), strings.Repeat("d", 100))
	if err := os.Mkdir(tmp, 0o711); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmp)
	s, err := pgtest.Start(pgtest.Options{})
	if err == nil {
		s.Cleanup()
		t.Fatal("Start succeeded although the socket path is too long")
	}
	if !strings.Contains(err.Error(), "107") {
		t.Errorf("error should explain the socket path limit: %v", err)
	}
	assertEmpty(t, tmp)
}

func TestMissingBinaries(t *testing.T) {
	t.Setenv(pgtest.BinDirEnv, filepath.Join(t.TempDir(), "no", "bin"))
	dir, err := pgtest.Available()
	if !errors.Is(err, pgtest.ErrUnavailable) {
		t.Fatalf("Available() error = %v, want ErrUnavailable", err)
	}
	if !strings.HasSuffix(dir, filepath.Join("no", "bin")) {
		t.Errorf("Available() dir = %q", dir)
	}
	if !strings.Contains(err.Error(), pgtest.InstallMatrix) {
		t.Errorf("error does not name %s: %v", pgtest.InstallMatrix, err)
	}
	if _, err := pgtest.Start(pgtest.Options{}); !errors.Is(err, pgtest.ErrUnavailable) {
		t.Errorf("Start error = %v, want ErrUnavailable", err)
	}

	t.Setenv(pgtest.BinDirEnv, "")
	if dir, err := pgtest.Available(); err != nil && !strings.Contains(err.Error(), "make deps") {
		t.Errorf("default bin dir %s: error does not name make deps: %v", dir, err)
	}
}

func TestDSN(t *testing.T) {
	s := &pgtest.Server{Port: 54321}
	dsn := s.DSN("u:s@r/", "p@ss:w/rd?#%", "my/db")
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "127.0.0.1" || cfg.Port != 54321 || cfg.User != "u:s@r/" || cfg.Password != "p@ss:w/rd?#%" || cfg.Database != "my/db" {
		t.Errorf("%s parses to host=%q port=%d user=%q password=%q db=%q", dsn, cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database)
	}
	if !strings.HasPrefix(dsn, "postgres://") || !strings.HasSuffix(dsn, "?sslmode=disable") {
		t.Errorf("DSN = %s", dsn)
	}
	var nilServer *pgtest.Server
	nilServer.Cleanup() // must not panic
}

// TestCrashHelper runs only inside TestCrashCleanup's child process: it
// reports the shared cluster and panics, as a broken test would.
func TestCrashHelper(t *testing.T) {
	if os.Getenv(crashHelperEnv) != "1" {
		t.Skip("helper for TestCrashCleanup")
	}
	s := pgtest.RequireServer(t, shared)
	fmt.Printf("PGTEST_DATA=%s\nPGTEST_PID=%d\n", s.DataDir, s.PID())
	panic("deliberate panic to test cleanup after a crash")
}

func TestCrashCleanup(t *testing.T) {
	pgtest.RequireServer(t, shared)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.v")
	cmd.Env = append(os.Environ(), crashHelperEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("helper did not fail:\n%s", out)
	}
	var data string
	var pid int
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PGTEST_DATA="); ok {
			data = v
		}
		if v, ok := strings.CutPrefix(sc.Text(), "PGTEST_PID="); ok {
			pid, _ = strconv.Atoi(v)
		}
	}
	if data == "" || pid <= 0 {
		t.Fatalf("helper did not report its cluster:\n%s", out)
	}
	waitGone(t, pid, filepath.Dir(data))
}

// Under -short the tests that need a server skip, even with CI=true and no
// PostgreSQL installed, and RunMain starts nothing; without -short the same
// missing binaries fail the run with CI=true.
func TestShortSkipsIntegrationTests(t *testing.T) {
	run := func(short bool) (string, error) {
		args := []string{"-test.run=^(TestLifecycle|TestMonitorRole|TestStartFailureCleansUp)$", "-test.v"}
		if short {
			args = append(args, "-test.short")
		}
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "CI=true", pgtest.BinDirEnv+"="+filepath.Join(t.TempDir(), "no", "bin"))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run(true)
	if err != nil {
		t.Fatalf("-short with CI=true and no binaries: %v\n%s", err, out)
	}
	if n := strings.Count(out, pgtest.ShortSkip); n != 3 {
		t.Errorf("-short: %d of 3 tests say %q:\n%s", n, pgtest.ShortSkip, out)
	}
	if strings.Contains(out, "initdb") {
		t.Errorf("-short: RunMain tried to start a cluster:\n%s", out)
	}
	if out, err := run(false); err == nil || !strings.Contains(out, "not available") {
		t.Errorf("without -short, CI=true and no binaries: %v, want a failure naming the missing binaries:\n%s", err, out)
	}
}
