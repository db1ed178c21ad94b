// Package pgtest starts throwaway PostgreSQL clusters for integration tests.
//
// A cluster is created with initdb in a fresh directory under os.TempDir(),
// listens on 127.0.0.1 on a free port and on a private Unix socket directory,
// and is tuned for speed (fsync, synchronous_commit and full_page_writes off).
// The superuser is "postgres" with a random password; host connections use
// scram-sha-256.
//
// The binaries come from $PGTEST_BIN_DIR, or from Debian's PostgreSQL 15
// (/usr/lib/postgresql/15/bin) when it is unset. Install them with
// `make deps` (scripts/install-deps.sh) for Debian's 15, or
// scripts/install-pg-matrix.sh for majors 13 to 18. When the binaries are
// missing, tests are skipped, unless CI=true, where that is a failure.
// Under go test -short (make test-unit) StartT, RequireServer and
// RequireBinaries skip the test as an integration test before anything is
// started, whatever CI says, and RunMain starts no cluster; promtest and
// bouncertest do the same through Integration, which a test that runs an
// external program itself calls first.
//
// PostgreSQL refuses to run as root. When the test process runs as root, the
// cluster's processes run as uid/gid 65534 (nobody/nogroup) and its
// directories are handed to that user.
//
// Typical use, one cluster per test package:
//
//	var srv *pgtest.Server
//
//	func TestMain(m *testing.M) {
//		os.Exit(pgtest.RunMain(m, pgtest.Options{}, &srv))
//	}
//
//	func TestSomething(t *testing.T) {
//		s := pgtest.RequireServer(t, srv)
//		dsn, err := s.CreateMonitorRole(context.Background(), "monitor", "secret")
//		...
//	}
//
// A test that needs a cluster of its own calls StartT instead; with
// Options.StandbyOf set, the new cluster is a streaming standby of a running
// one (made with the low-level base backup API and a file copy, so only
// initdb, pg_ctl and postgres are needed).
//
// Every cluster is removed by Server.Cleanup. A small watchdog process
// removes it as well if the test binary dies first (a panic in a test, a
// timeout, an interrupt), so no postgres processes or directories are left
// behind.
package pgtest
