package pgtest

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
)

// CI reports whether the CI environment variable is "true" (or "1"); there,
// missing dependencies fail tests instead of skipping them.
func CI() bool {
	v := strings.TrimSpace(os.Getenv("CI"))
	return strings.EqualFold(v, "true") || v == "1"
}

// ShortSkip is the message of every test that -short skips because it
// starts a server or runs an external program.
const ShortSkip = "integration test; skipped by -short"

// Integration skips the test under -short (go test -short, make test-unit):
// it starts a server or runs an external program. Every harness here calls
// it before starting anything, so a test that uses one needs no check of its
// own; a test that runs a program directly calls it first.
func Integration(tb testing.TB) {
	tb.Helper()
	if testing.Short() {
		tb.Skip(ShortSkip)
	}
}

// Skip skips the test because what is not installed, naming the install
// command. With CI=true it fails the test instead, except under -short,
// where an integration test is skipped whatever is installed.
func Skip(tb testing.TB, what, install string) {
	tb.Helper()
	Integration(tb)
	msg := fmt.Sprintf("%s not available; install with %s", what, install)
	if CI() {
		tb.Fatalf("%s (CI=true, so this is a failure)", msg)
	}
	tb.Skipf("%s", msg)
}

// StartT starts a cluster for one test and removes it when the test ends.
// Missing binaries skip the test (fail it with CI=true); any other problem
// fails it. If the test fails, the server log is sent to Options.Logger, or
// its tail to the test log.
func StartT(tb testing.TB, opts Options) *Server {
	tb.Helper()
	Integration(tb)
	s, err := Start(opts)
	if err != nil {
		var ue *UnavailableError
		if errors.As(err, &ue) {
			Skip(tb, "PostgreSQL binaries in "+ue.BinDir, ue.Install)
		}
		tb.Fatalf("%v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			if opts.Logger != nil {
				s.copyLog(opts.Logger)
			} else {
				tb.Logf("pgtest: server log %s, last lines:\n%s", s.LogPath(), indent(s.LogTail(40)))
			}
		}
		s.Cleanup()
	})
	return s
}

var (
	unavailableMu sync.Mutex
	unavailable   *UnavailableError
)

// RunMain is meant for TestMain: os.Exit(pgtest.RunMain(m, opts, &srv)).
// It starts a cluster, stores it in *out, runs the tests and removes the
// cluster, also when a test fails or m.Run panics; if the process dies in
// a way no deferred call sees (a panic in a test, a timeout), the watchdog
// removes the cluster. If the binaries are missing and CI is not true, it
// prints why, leaves *out nil and still runs the tests, which skip through
// RequireServer. Any other start failure returns exit code 1. Under -short
// it starts nothing and RequireServer skips every test that needs the server.
func RunMain(m *testing.M, opts Options, out **Server) (code int) {
	if !flag.Parsed() {
		flag.Parse()
	}
	if out != nil {
		*out = nil
	}
	if testing.Short() {
		return m.Run()
	}
	s, err := Start(opts)
	if err != nil {
		var ue *UnavailableError
		if errors.As(err, &ue) && !CI() {
			unavailableMu.Lock()
			unavailable = ue
			unavailableMu.Unlock()
			fmt.Fprintf(os.Stderr, "%v\npgtest: tests that need PostgreSQL will be skipped\n", err)
			return m.Run()
		}
		fmt.Fprintf(os.Stderr, "%v\n", err)
		return 1
	}
	if out != nil {
		*out = s
	}
	defer func() {
		if r := recover(); r != nil {
			s.Cleanup()
			panic(r)
		}
		if code != 0 {
			if opts.Logger != nil {
				s.copyLog(opts.Logger)
			} else {
				fmt.Fprintf(os.Stderr, "pgtest: tests failed; server log %s, last lines:\n%s\n", s.LogPath(), indent(s.LogTail(40)))
			}
		}
		s.Cleanup()
	}()
	return m.Run()
}

// RequireServer returns s, the server RunMain stored. Under -short the test
// is skipped. When s is nil because the binaries are missing, the test is
// skipped (failed with CI=true) with the install command; when it is nil for
// any other reason, the test fails.
func RequireServer(tb testing.TB, s *Server) *Server {
	tb.Helper()
	Integration(tb)
	if s != nil {
		return s
	}
	unavailableMu.Lock()
	ue := unavailable
	unavailableMu.Unlock()
	if ue != nil {
		Skip(tb, "PostgreSQL binaries in "+ue.BinDir, ue.Install)
	}
	tb.Fatalf("pgtest: no server; call pgtest.RunMain from TestMain")
	return nil
}

// RequireBinaries returns the bin dir from Available, or skips the test
// (fails it with CI=true) naming the install command. Under -short it skips
// the test: whoever asks for the binaries means to run them.
func RequireBinaries(tb testing.TB) string {
	tb.Helper()
	Integration(tb)
	dir, err := Available()
	if err != nil {
		var ue *UnavailableError
		if errors.As(err, &ue) {
			Skip(tb, "PostgreSQL binaries in "+ue.BinDir, ue.Install)
		}
		tb.Fatalf("%v", err)
	}
	return dir
}
