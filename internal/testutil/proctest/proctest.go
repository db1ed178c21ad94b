// Package proctest runs a server process for the length of a test: its
// output goes to a buffer the test can read while it runs, and the test's
// end stops it, showing the output when the test failed.
package proctest

import (
	"os/exec"
	"syscall"
	"testing"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/syncbuf"
)

// Start starts cmd with its stdout and stderr going to the buffer it
// returns. When the test ends, the process gets SIGTERM and is waited for;
// if the test failed, its output is logged under name.
func Start(tb testing.TB, cmd *exec.Cmd, name string) *syncbuf.Buffer {
	tb.Helper()
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if tb.Failed() {
			tb.Logf("%s's output:\n%s", name, out.String())
		}
	})
	return out
}
