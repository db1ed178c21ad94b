package remediate

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// laterWindow is a windows: section with a window "later" that opens in
// two hours, so that it is closed now in any zone.
func laterWindow() string {
	start := time.Now().UTC().Add(2 * time.Hour)
	return fmt.Sprintf("windows:\n  later: {start: '%s', end: '%s', time_zone: UTC}\n", start.Format("15:04"), start.Add(time.Hour).Format("15:04"))
}

// deferLimitConfig is an enforcing receiver on db that lets two actions
// wait for their window and has one worker: a vacuum rule for dead tuples,
// inside the closed window "later" when inWindow is true, and a command rule
// for alert Slow that keeps the worker busy for two seconds.
func deferLimitConfig(db string, inWindow bool) string {
	window := ""
	if inWindow {
		window = "\n    window: later"
	}
	return "limits: {deferred_actions: 2}\nqueue: {size: 10, workers: 1}\n" + laterWindow() + receiverConfig("enforce", db, `
  - alertname: PostgresDeadTuplesHigh
    action: vacuum`+window+`
  - alertname: Slow
    action: command
    params: {command: [sleep, "2"]}
`)
}

// Label text a sender controls is cut before it is stored, audited or
// served, and alert names no rule has are counted as "other", so a flood of
// distinct names adds no series.
func TestHostileLabelsAreBounded(t *testing.T) {
	db := newDatabase(t)
	h := startReceiver(t, laterWindow()+receiverConfig("enforce", db, vacuumRule+`
  - alertname: PostgresAnalyzeOverdue
    action: analyze
    window: later
`))
	huge := strings.Repeat("x", 200_000)
	var alerts []Alert
	for i := range 50 {
		alerts = append(alerts, firing("alertname", fmt.Sprintf("Flood%d_%s", i, huge[:5000])))
	}
	mapped := deadTuplesAlert(db, huge)
	mapped.Labels["comment"] = huge
	// An action that waits for its window keeps its alert's labels.
	waiting := firing("alertname", "PostgresAnalyzeOverdue", "datname", db, "schemaname", "public", "relname", "t", "comment", huge)
	h.send(t, append(alerts, mapped, waiting)...)
	recs := h.waitRecords(t, 1, forAlert(mapped))
	if r := h.waitRecords(t, 1, forAlert(waiting))[0]; r.Result != ResultDeferred {
		t.Fatalf("the analyze with a window: %+v", r)
	}
	for _, r := range append(h.records(t), h.r.Recent()...) {
		if len(r.Alertname) > 200 || len(r.Object) > 300 || len(r.Reason) > 1100 || len(r.Detail) > 2*maxOutput+100 {
			t.Errorf("a record keeps long label text: alertname %d, object %d, reason %d, detail %d bytes",
				len(r.Alertname), len(r.Object), len(r.Reason), len(r.Detail))
		}
	}
	if r := recs[0]; r.Result != ResultRefused || !strings.Contains(r.Reason, "label relname is longer than 63 bytes") {
		t.Errorf("the alert naming a huge table: %+v", r)
	}
	if got := testutil.ToFloat64(h.r.m.actions.WithLabelValues(actionNone, otherAlertname, ResultIgnored)); got != 50 {
		t.Errorf(`pg_remediation_actions_total{action="none",alertname="other",result="ignored"} = %v, want 50`, got)
	}
	if n := testutil.CollectAndCount(h.r.m.actions); n > 20 {
		t.Errorf("pg_remediation_actions_total has %d series after 50 distinct alert names; want the configured ones and other", n)
	}
	kept := h.r.queuedOrDeferredLabels()
	if len(kept) != 1 {
		t.Fatalf("%d jobs held, want the deferred analyze", len(kept))
	}
	if v := kept[0]["comment"]; len(v) > maxLabelValue+32 || !strings.HasSuffix(v, "...(200000 bytes)") {
		t.Errorf("the deferred job keeps label comment of %d bytes (%.40q...)", len(v), v)
	}
}

// queuedOrDeferredLabels returns the labels of the jobs the receiver holds.
func (r *Receiver) queuedOrDeferredLabels() []map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]string
	for _, jobs := range r.pending {
		for _, j := range jobs {
			out = append(out, j.alert.Labels)
		}
	}
	return out
}

// Past limits.remembered_alerts a notification that would be remembered is
// answered 503, and one already remembered still gets through.
func TestRememberedAlertsAreBounded(t *testing.T) {
	db := newDatabase(t)
	h := startReceiver(t, "limits: {remembered_alerts: 3}\n"+laterWindow()+receiverConfig("dry-run", db, `
  - alertname: PostgresDeadTuplesHigh
    action: vacuum
    window: later
    outside_window: skip
`))
	var alerts []Alert
	for i := range 3 {
		a := deadTuplesAlert(db, fmt.Sprintf("t%d", i))
		alerts = append(alerts, a)
		h.send(t, a)
	}
	body, code := h.postBody(t, payloadOf(deadTuplesAlert(db, "t3")))
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "3 notifications are remembered, the most limits.remembered_alerts allows") {
		t.Errorf("a fourth notification: %d %q; want 503 naming limits.remembered_alerts", code, body)
	}
	if body, code := h.postBody(t, payloadOf(resolved(deadTuplesAlert(db, "t4")))); code != http.StatusServiceUnavailable {
		t.Errorf("a new resolved notification: %d %q; want 503", code, body)
	}
	h.send(t, resolved(alerts[0])) // already remembered
	if got := plainGauge(t, h, "pg_remediation_remembered_alerts"); got != 3 {
		t.Errorf("pg_remediation_remembered_alerts = %v, want 3", got)
	}
	if got := plainGauge(t, h, "pg_remediation_remembered_alerts_capacity"); got != 3 {
		t.Errorf("pg_remediation_remembered_alerts_capacity = %v, want 3", got)
	}
}

// Past limits.deferred_actions a notification whose action would wait for
// its window is answered 503. Actions a reload sends to a window after they
// were queued are skipped rather than deferred past the limit.
func TestDeferredActionsAreBounded(t *testing.T) {
	db := newDatabase(t)
	// The worker is busy while three actions without a window are queued;
	// a reload then gives their rule a window that is closed.
	h := startReceiver(t, deferLimitConfig(db, false))
	h.send(t, firing("alertname", "Slow"))
	var alerts []Alert
	for i := range 3 {
		a := deadTuplesAlert(db, fmt.Sprintf("t%d", i))
		alerts = append(alerts, a)
		h.send(t, a)
	}
	h.reload(t, deferLimitConfig(db, true))
	results := map[string]int{}
	for _, a := range alerts {
		r := h.waitRecords(t, 1, forAlert(a))[0]
		results[r.Result]++
		if r.Result == ResultSkipped && !strings.Contains(r.Reason, "2 actions already wait for their window (limits.deferred_actions)") {
			t.Errorf("skipped for another reason: %+v", r)
		}
	}
	if results[ResultDeferred] != 2 || results[ResultSkipped] != 1 {
		t.Errorf("decisions %v; want 2 deferred and 1 skipped", results)
	}
	body, code := h.postBody(t, payloadOf(deadTuplesAlert(db, "t9")))
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "3 actions would wait for their maintenance window, more than limits.deferred_actions (2)") {
		t.Errorf("a notification past the limit: %d %q; want 503 naming limits.deferred_actions", code, body)
	}
	if got := plainGauge(t, h, "pg_remediation_deferred_actions"); got != 2 {
		t.Errorf("pg_remediation_deferred_actions = %v, want 2", got)
	}
	if got := plainGauge(t, h, "pg_remediation_deferred_actions_capacity"); got != 2 {
		t.Errorf("pg_remediation_deferred_actions_capacity = %v, want 2", got)
	}
}

// Actions queued to wait for their window count against the limit before
// they defer: a notification that would go past it is answered 503 at once.
func TestQueuedDeferringActionsCountAgainstTheLimit(t *testing.T) {
	db := newDatabase(t)
	h := startReceiver(t, deferLimitConfig(db, true))
	h.send(t, firing("alertname", "Slow"))
	h.send(t, deadTuplesAlert(db, "t0"), deadTuplesAlert(db, "t1"))
	if body, code := h.postBody(t, payloadOf(deadTuplesAlert(db, "t2"))); code != http.StatusServiceUnavailable || !strings.Contains(body, "limits.deferred_actions (2)") {
		t.Errorf("a third deferring action while two are queued: %d %q; want 503", code, body)
	}
}
