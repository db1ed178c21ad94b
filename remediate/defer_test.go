package remediate

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A deferred action runs once its window opens. Windows have minute
// granularity, so the receiver's clock is shifted to two seconds before a
// whole minute at which the window starts; it still runs at real speed, so
// the receiver's own timer brings the action back at the opening.
func TestDeferredActionRunsWhenTheWindowOpens(t *testing.T) {
	db := newDatabase(t)
	deadTable(t, db, "orders", 20000)
	opening := time.Now().UTC().Truncate(time.Minute).Add(2 * time.Minute)
	offset := time.Until(opening.Add(-2 * time.Second))
	clock := func() time.Time { return time.Now().Add(offset) }
	win := fmt.Sprintf("windows:\n  soon: {start: '%s', end: '%s', time_zone: UTC}\n", opening.Format("15:04"), opening.Add(time.Hour).Format("15:04"))
	h := startReceiverOpts(t, win+receiverConfig("enforce", db, `
  - alertname: PostgresDeadTuplesHigh
    action: vacuum
    window: soon
    outside_window: defer
`), Options{Now: clock})
	a := deadTuplesAlert(db, "orders")
	h.send(t, a)
	recs := h.waitRecords(t, 1, forAlert(a))
	if recs[0].Result != ResultDeferred || !strings.Contains(recs[0].Reason, "deferred to "+opening.Format(time.RFC3339)) {
		t.Fatalf("before the window: %+v", recs[0])
	}
	if got := plainGauge(t, h, "pg_remediation_deferred_actions"); got != 1 {
		t.Errorf("pg_remediation_deferred_actions = %v while deferred, want 1", got)
	}
	if lastVacuum(t, db, "orders") != nil {
		t.Fatal("the VACUUM ran before its window")
	}
	recs = h.waitRecords(t, 2, forAlert(a))
	if r := recs[1]; r.Result != ResultRan || r.Statement != `VACUUM (ANALYZE, SKIP_LOCKED) "public"."orders"` || r.Time.Before(opening) {
		t.Fatalf("once the window opened: %+v", r)
	}
	if lastVacuum(t, db, "orders") == nil {
		t.Error("last_vacuum did not move")
	}
	if got := plainGauge(t, h, "pg_remediation_deferred_actions"); got != 0 {
		t.Errorf("pg_remediation_deferred_actions = %v after the run, want 0", got)
	}
	if got := h.counter(t, "vacuum", "PostgresDeadTuplesHigh", ResultDeferred) + h.counter(t, "vacuum", "PostgresDeadTuplesHigh", ResultRan); got != 2 {
		t.Errorf("deferred + ran counted %v times, want 2", got)
	}
}

// plainGauge reads a gauge without labels from the receiver's registry.
func plainGauge(t *testing.T, h *harness, name string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s", name)
	return 0
}
