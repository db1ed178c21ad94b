package proctest_test

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/proctest"
)

// The buffer fills while the process runs, and the test's end stops a
// process that would otherwise run on.
func TestStartCapturesOutputAndStopsAtTheEnd(t *testing.T) {
	var cmd *exec.Cmd
	t.Run("run", func(t *testing.T) {
		cmd = exec.Command("sh", "-c", "echo ready; echo oops >&2; exec sleep 60")
		out := proctest.Start(t, cmd, "sh")
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "oops"); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("output so far: %q", out.String())
			}
		}
		if !strings.Contains(out.String(), "ready") {
			t.Errorf("stdout missing: %q", out.String())
		}
	})
	if cmd.ProcessState == nil {
		t.Fatal("the process was not waited for when its test ended")
	}
	if ws := cmd.ProcessState.String(); !strings.Contains(ws, "terminated") {
		t.Errorf("the process ended with %q, want terminated by SIGTERM", ws)
	}
}
