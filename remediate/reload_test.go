package remediate

import (
	"strings"
	"testing"
)

// reload switches h to the configuration cfgYAML (AUDIT is h's audit file).
func (h *harness) reload(t *testing.T, cfgYAML string) {
	t.Helper()
	cfg, err := Parse("test.yml", []byte(strings.ReplaceAll(cfgYAML, "AUDIT", h.audit)))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.r.Reload(cfg); err != nil {
		t.Fatal(err)
	}
}

// startDeferredVacuum starts an enforce-mode receiver whose vacuum rule
// waits for a window two hours away, and sends it an alert about a table
// with dead tuples; it returns once the action is deferred.
func startDeferredVacuum(t *testing.T) (h *harness, db string, a Alert) {
	t.Helper()
	db = newDatabase(t)
	deadTable(t, db, "orders", 20000)
	h = startReceiver(t, laterWindow()+receiverConfig("enforce", db, vacuumRule+"    window: later\n"))
	a = deadTuplesAlert(db, "orders")
	h.send(t, a)
	if rec := h.waitRecords(t, 1, forAlert(a))[0]; rec.Result != ResultDeferred {
		t.Fatalf("before the reload: %+v", rec)
	}
	return h, db, a
}

// A reload to dry-run reaches an action already queued: it decides under
// the configuration current when it runs, so the table is not vacuumed.
func TestReloadToDryRunReachesQueuedAction(t *testing.T) {
	db := newDatabase(t)
	deadTable(t, db, "orders", 20000)
	// One worker, busy with a slow command, so the vacuum waits in the queue.
	rules := vacuumRule + `
  - alertname: Slow
    action: command
    params: {command: [sleep, "2"]}
`
	h := startReceiver(t, "queue: {size: 10, workers: 1}\n"+receiverConfig("enforce", db, rules))
	slow := firing("alertname", "Slow")
	h.send(t, slow)
	v := deadTuplesAlert(db, "orders")
	h.send(t, v)
	h.reload(t, "queue: {size: 10, workers: 1}\n"+receiverConfig("dry-run", db, rules))
	rec := h.waitRecords(t, 1, forAlert(v))[0]
	if rec.Result != ResultDryRun || rec.Mode != ModeDryRun {
		t.Fatalf("the queued vacuum after a reload to dry-run: %+v", rec)
	}
	if lastVacuum(t, db, "orders") != nil {
		t.Error("the queued vacuum ran after the reload to dry-run")
	}
}

// A reload that narrows the allowlists and drops the rule's window reaches
// a deferred action at once: it leaves its wait and is refused under the
// new allowlist instead of running at the old window's opening.
func TestReloadReachesDeferredAction(t *testing.T) {
	h, db, a := startDeferredVacuum(t)
	if got := plainGauge(t, h, "pg_remediation_deferred_actions"); got != 1 {
		t.Fatalf("pg_remediation_deferred_actions = %v, want 1", got)
	}
	narrowed := strings.Replace(receiverConfig("enforce", db, vacuumRule), `tables: ['public\..*']`, `tables: ['public\.invoices']`, 1)
	h.reload(t, narrowed)
	rec := h.waitRecords(t, 2, forAlert(a))[1]
	if rec.Result != ResultRefused || !strings.Contains(rec.Reason, `table "public.orders" is not in allow.tables`) {
		t.Fatalf("the deferred vacuum after the reload: %+v", rec)
	}
	if got := plainGauge(t, h, "pg_remediation_deferred_actions"); got != 0 {
		t.Errorf("pg_remediation_deferred_actions = %v after the reload, want 0", got)
	}
	if lastVacuum(t, db, "orders") != nil {
		t.Error("the deferred vacuum ran")
	}
}

// A reload that removes the rule skips what it had queued or deferred.
func TestReloadRemovingTheRuleSkipsDeferredAction(t *testing.T) {
	h, db, a := startDeferredVacuum(t)
	h.reload(t, receiverConfig("enforce", db, `
  - alertname: PostgresAnalyzeOverdue
    action: analyze
`))
	rec := h.waitRecords(t, 2, forAlert(a))[1]
	if rec.Result != ResultSkipped || !strings.Contains(rec.Reason, "no longer maps this alert to vacuum") {
		t.Fatalf("the deferred vacuum after its rule was removed: %+v", rec)
	}
}
