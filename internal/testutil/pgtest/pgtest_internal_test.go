package pgtest

import (
	"net"
	"strings"
	"testing"
)

// TestPortClashRetry makes the first port handed to the server a busy one;
// Start must notice the clash in the server log and retry on another port.
func TestPortClashRetry(t *testing.T) {
	RequireBinaries(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port

	calls := 0
	pickPort = func() (int, error) {
		calls++
		if calls == 1 {
			return busyPort, nil
		}
		return freePort()
	}
	defer func() { pickPort = freePort }()

	s := StartT(t, Options{})
	if calls != 2 {
		t.Errorf("picked a port %d times, want 2", calls)
	}
	if s.Port == busyPort {
		t.Fatalf("server claims the busy port %d", busyPort)
	}
	if log := s.LogTail(100); !portClash(log) {
		t.Errorf("server log does not show the clash:\n%s", log)
	}
	if !strings.Contains(s.LogTail(100), "ready to accept connections") {
		t.Errorf("server log does not show the successful start:\n%s", s.LogTail(100))
	}
}

func TestAllPortsBusy(t *testing.T) {
	RequireBinaries(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port
	pickPort = func() (int, error) { return busyPort, nil }
	defer func() { pickPort = freePort }()

	s, err := Start(Options{})
	if err == nil {
		s.Cleanup()
		t.Fatal("Start succeeded although every port was busy")
	}
	if !strings.Contains(err.Error(), "no free port after 3 attempts") {
		t.Errorf("unexpected error: %v", err)
	}
}
