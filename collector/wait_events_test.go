package collector_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/pghardening/pg_hardening_exporter/collector"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/families"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/scrapetest"
)

// Three sessions sleeping and two waiting for a row lock show up under their
// wait events; with room for one event the sleepers keep their labels and the
// rest is added up under __other__, so the family still sums to every active
// session.
func TestWaitEventsTopNAndRemainder(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	// The sessions close at cleanup, after their statements have ended.
	defer func() { cancel(); wg.Wait() }()
	if err := s.CreateDatabase(ctx, "waits"); err != nil {
		t.Fatal(err)
	}
	if err := s.Exec(ctx, "waits", "DROP TABLE IF EXISTS w", "CREATE TABLE w (id int PRIMARY KEY)", "INSERT INTO w VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	holder := session(t, s, "waits", "wait-holder")
	exec(t, holder, "BEGIN", "UPDATE w SET id = 1 WHERE id = 1")
	for i := 0; i < 3; i++ {
		c := session(t, s, "waits", fmt.Sprintf("sleeper-%d", i))
		wg.Go(func() { c.Exec(ctx, "SELECT pg_sleep(60)") }) //nolint:errcheck // ended by the cancelled context
	}
	for i := 0; i < 2; i++ {
		c := session(t, s, "waits", fmt.Sprintf("lock-waiter-%d", i))
		wg.Go(func() { c.Exec(ctx, "UPDATE w SET id = 1 WHERE id = 1") }) //nolint:errcheck // ended by the cancelled context
	}
	sleeping := map[string]string{"datname": "waits", "wait_event_type": "Timeout", "wait_event": "PgSleep"}
	locked := map[string]string{"datname": "waits", "wait_event_type": "Lock"}

	all := scrapetest.New(t, s.SuperuserDSN(""), nil, "wait_events")
	r, ok := scrapeUntil(t, all, func(r families.Result) bool {
		v, _ := r.Value("pg_stat_activity_wait_event_sessions", sleeping)
		return v == 3 && r.Sum("pg_stat_activity_wait_event_sessions", locked) == 2
	})
	if !ok {
		t.Fatalf("sleepers and lock waiters not seen:\n%s", r.String("pg_stat_activity_wait_event_sessions"))
	}
	if sum, total := r.Sum("pg_stat_activity_wait_event_sessions", nil), mustValue(t, r, "pg_stat_activity_active_sessions", nil); sum != total {
		t.Errorf("wait event series add up to %v, active sessions are %v", sum, total)
	}

	one := scrapetest.New(t, s.SuperuserDSN(""), parseConfig(t, "activity:\n  max_wait_events: 1\n"), "wait_events")
	r, ok = scrapeUntil(t, one, func(r families.Result) bool {
		v, _ := r.Value("pg_stat_activity_wait_event_sessions", sleeping)
		return v == 3
	})
	if !ok {
		t.Fatalf("the most common event did not keep its labels:\n%s", r.String("pg_stat_activity_wait_event_sessions"))
	}
	other := map[string]string{"datname": collector.OtherLabel, "wait_event_type": collector.OtherLabel, "wait_event": collector.OtherLabel}
	if v := mustValue(t, r, "pg_stat_activity_wait_event_sessions", other); v < 2 {
		t.Errorf("the remainder holds %v sessions, want at least the 2 lock waiters", v)
	}
	if n := len(r.Values("pg_stat_activity_wait_event_sessions", nil)); n != 2 {
		t.Errorf("%d series with max_wait_events 1, want 2:\n%s", n, r.String("pg_stat_activity_wait_event_sessions"))
	}
	if sum, total := r.Sum("pg_stat_activity_wait_event_sessions", nil), mustValue(t, r, "pg_stat_activity_active_sessions", nil); sum != total {
		t.Errorf("wait event series add up to %v, active sessions are %v", sum, total)
	}
	exec(t, holder, "ROLLBACK")
}
