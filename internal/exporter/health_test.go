package exporter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
)

type healthAnswer struct {
	Role   string   `json:"role"`
	Lag    *float64 `json:"lag_seconds"`
	MaxLag *float64 `json:"max_lag_seconds"`
	Reason string   `json:"reason"`
}

// health fetches a role check; the body of a 200 or 503 must be one JSON line.
func (h *harness) health(t *testing.T, path string) (int, healthAnswer, string) {
	t.Helper()
	resp, err := http.Get(h.http.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	body := string(b)
	var a healthAnswer
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusServiceUnavailable {
		if strings.Count(body, "\n") != 1 || json.Unmarshal(b, &a) != nil {
			t.Fatalf("%s: %d, body is not one JSON line: %q", path, resp.StatusCode, body)
		}
	}
	return resp.StatusCode, a, body
}

// waitHealth repeats a role check until it answers want or 30 s pass.
func (h *harness) waitHealth(t *testing.T, path string, want int) healthAnswer {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, a, body := h.health(t, path)
		if code == want {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: after 30s still %d %s, want %d", path, code, body, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The role checks against the shared cluster as the primary (the default
// target) and a streaming standby of it (a configured target), both seen
// through a pg_monitor-only role; then the standby's replay is paused until
// it lags, resumed, and finally the standby is stopped.
func TestHealthPrimaryReplicaRead(t *testing.T) {
	primary := pgtest.RequireServer(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const pw = "health-secret-pw"
	monDSN, err := primary.CreateMonitorRole(ctx, "health_monitor", pw)
	if err != nil {
		t.Fatal(err)
	}
	standby := pgtest.StartT(t, pgtest.Options{StandbyOf: primary})
	h := start(t, fmt.Sprintf("targets:\n  - name: standby\n    dsn: %q\n", standby.DSN("health_monitor", pw, "postgres")), monDSN)

	check := func(path string, want int, role string) healthAnswer {
		t.Helper()
		code, a, body := h.health(t, path)
		if code != want || a.Role != role {
			t.Fatalf("%s: %d %s, want %d with role %s", path, code, body, want, role)
		}
		if strings.Contains(body, pw) || strings.Contains(body, "health_monitor") {
			t.Fatalf("%s: the answer names the connection's credentials: %s", path, body)
		}
		return a
	}

	t.Run("primary", func(t *testing.T) {
		check("/health/primary", 200, "primary")
		if a := check("/health/replica", 503, "primary"); a.Lag != nil {
			t.Errorf("a primary reports a replay lag: %v", *a.Lag)
		}
		check("/health/read", 200, "primary")
	})

	t.Run("replica", func(t *testing.T) {
		a := h.waitHealth(t, "/health/replica?target=standby", 200)
		if a.Role != "replica" || a.Lag == nil || a.MaxLag == nil || *a.MaxLag != 30 {
			t.Fatalf("standby answer %+v, want a replica with a lag and max_lag 30", a)
		}
		check("/health/primary?target=standby", 503, "replica")
		check("/health/read?target=standby", 200, "replica")
	})

	t.Run("bad requests", func(t *testing.T) {
		for path, want := range map[string]struct {
			code int
			text string
		}{
			"/health/replica?max_lag=soon":                                            {400, `max_lag="soon" is not a duration`},
			"/health/read?target=standby&max_lag=-1s":                                 {400, `max_lag="-1s" is not a duration`},
			"/health/primary?target=nosuch":                                           {404, `unknown target "nosuch"`},
			fmt.Sprintf("/health/primary?target=127.0.0.1:%d/postgres", primary.Port): {404, "unknown target"},
			"/health/primary?target=standby&auth_module=mon":                          {400, "auth_module is not accepted"},
		} {
			code, _, body := h.health(t, path)
			if code != want.code || !strings.Contains(body, want.text) || strings.Count(body, "\n") != 1 {
				t.Errorf("%s: %d %q, want %d with one line containing %q", path, code, body, want.code, want.text)
			}
		}
	})

	t.Run("lagging replica", func(t *testing.T) {
		// A commit the standby replays, then replay paused and more WAL:
		// the lag counts from that commit.
		if err := primary.Exec(ctx, "", "DROP TABLE IF EXISTS health_lag", "CREATE TABLE health_lag (i int)"); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); standby.Exec(ctx, "", "SELECT FROM health_lag") != nil; time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the standby did not replay the primary's table within 30s")
			}
		}
		if err := standby.Exec(ctx, "", "SELECT pg_wal_replay_pause()"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = standby.Exec(context.Background(), "", "SELECT pg_wal_replay_resume()") })
		if err := primary.Exec(ctx, "", "INSERT INTO health_lag VALUES (1)"); err != nil {
			t.Fatal(err)
		}
		a := h.waitHealth(t, "/health/replica?target=standby&max_lag=1s", 503)
		if a.Role != "replica" || a.Lag == nil || *a.Lag <= 1 || !strings.Contains(a.Reason, "over max_lag") {
			t.Fatalf("lagging standby answer %+v, want a replica with a lag over 1s", a)
		}
		check("/health/read?target=standby&max_lag=1s", 503, "replica")
		check("/health/replica?target=standby&max_lag=1h", 200, "replica")
		check("/health/read?target=standby&max_lag=1h", 200, "replica")

		if err := standby.Exec(ctx, "", "SELECT pg_wal_replay_resume()"); err != nil {
			t.Fatal(err)
		}
		a = h.waitHealth(t, "/health/replica?target=standby&max_lag=1s", 200)
		if a.Lag == nil || *a.Lag > 1 {
			t.Fatalf("caught-up standby answer %+v, want a lag of at most 1s", a)
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		if err := standby.StopServer(); err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/health/primary?target=standby", "/health/replica?target=standby", "/health/read?target=standby"} {
			if a := check(path, 503, "unknown"); a.Reason == "" {
				t.Errorf("%s: 503 without a reason", path)
			}
		}
		check("/health/primary", 200, "primary")
	})
}

// A role check while the target's circuit breaker is open says so, and
// when the next attempt is, instead of blaming the server: the exporter did
// not ask it.
func TestHealthSaysWhenTheBreakerIsOpen(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: every connection is refused
	h := start(t, fmt.Sprintf("connection:\n  retries: 0\n  breaker_failures: 1\n  breaker_open_for: 1h\ntargets:\n  - name: gone\n    dsn: \"postgres://u@%s/db?sslmode=disable\"\n", addr), "")
	code, a, body := h.health(t, "/health/primary?target=gone")
	if code != 503 || a.Role != "unknown" || strings.Contains(a.Reason, "circuit breaker") {
		t.Fatalf("first check of a refused target: %d %s, want 503 blaming the connection", code, body)
	}
	code, a, body = h.health(t, "/health/primary?target=gone")
	if code != 503 || a.Role != "unknown" || !strings.Contains(a.Reason, "circuit breaker") || !strings.Contains(a.Reason, "breaker_open_for") {
		t.Fatalf("check with the breaker open: %d %s, want 503 saying the breaker is open and what sets how long", code, body)
	}
}
