package demo

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/promtest"
	"github.com/pghardening/pg_hardening_exporter/remediate"
)

// testdata/run.json holds readings of Prometheus's /api/v1/alerts and the
// receiver's /api/v1/actions taken every 3 s during one real make demo on a
// 2-core machine, with the demo's start time.
type recordedRun struct {
	Start    time.Time `json:"start"`
	Readings []struct {
		At     time.Time `json:"at"`
		Alerts struct {
			Data struct {
				Alerts []promtest.Alert `json:"alerts"`
			} `json:"data"`
		} `json:"alerts"`
		Actions struct {
			Actions []remediate.Record `json:"actions"`
		} `json:"actions"`
	} `json:"readings"`
}

func replay(t *testing.T) (string, recordedRun) {
	t.Helper()
	b, err := os.ReadFile("testdata/run.json")
	if err != nil {
		t.Fatal(err)
	}
	var run recordedRun
	if err := json.Unmarshal(b, &run); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	w := newWatcher(run.Start, &out)
	for _, r := range run.Readings {
		w.observeAlerts(r.At, r.Alerts.Data.Alerts)
		w.observeDecisions(r.Actions.Actions)
	}
	w.summary(run.Readings[len(run.Readings)-1].At)
	return out.String(), run
}

// One line per alert as it starts pending, fires and resolves, one per
// receiver decision, and a summary with each alert's times and each
// decision, from a real run's readings.
func TestWatcherTellsWhatHappened(t *testing.T) {
	out, run := replay(t)
	since := func(at time.Time) string { return clock(at.Sub(run.Start)) }
	// The times the lines must carry, read from the recorded data itself.
	var deadPending, deadFiring, bouncerResolved string
	var bouncerSeen bool
	for _, r := range run.Readings {
		bouncerHere := false
		for _, a := range r.Alerts.Data.Alerts {
			switch {
			case a.Labels["alertname"] == "PostgresDeadTuplesHigh" && deadPending == "":
				deadPending = since(a.ActiveAt)
			case a.Labels["alertname"] == "PgBouncerClientsWaiting":
				bouncerHere, bouncerSeen = true, true
			}
			if a.Labels["alertname"] == "PostgresDeadTuplesHigh" && a.State == "firing" && deadFiring == "" {
				deadFiring = since(r.At)
			}
		}
		if bouncerSeen && !bouncerHere && bouncerResolved == "" {
			bouncerResolved = since(r.At)
		}
	}
	if deadPending == "" || deadFiring == "" || bouncerResolved == "" {
		t.Fatalf("the recorded run lacks the transitions this test reads: %q %q %q", deadPending, deadFiring, bouncerResolved)
	}
	lines := strings.Split(out, "\n")
	for _, want := range []string{
		"demo " + deadPending + "  PostgresDeadTuplesHigh datname=app relname=leads schemaname=public pending",
		"demo " + deadFiring + "  PostgresDeadTuplesHigh datname=app relname=leads schemaname=public firing, ",
		"  PostgresIdleInTransaction datname=app firing, ",
		"  receiver: would VACUUM public.leads: 20 000 dead tuples before, dry-run (PostgresDeadTuplesHigh)",
		"  receiver: would terminate backend sessions in app: pid ",
		"  receiver: no rule for PostgresPoolUtilizationHigh, ignored",
		"demo " + bouncerResolved + "  PgBouncerClientsWaiting database=app pgbouncer=demo user=app resolved",
	} {
		n := 0
		for _, l := range lines {
			if strings.HasPrefix(l, want) || !strings.HasPrefix(want, "demo ") && strings.Contains(l, want) && strings.HasPrefix(l, "demo ") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d lines like %q, want 1:\n%s", n, want, out)
		}
	}
	// The pid is a pid, not a count.
	if strings.Contains(out, "pid 22 ") {
		t.Errorf("a pid was grouped like a count:\n%s", out)
	}

	_, summary, ok := strings.Cut(out, "demo: what happened in ")
	if !ok {
		t.Fatalf("no summary:\n%s", out)
	}
	for _, want := range []string{
		"first alert fired ",
		"receiver decisions:",
		"would VACUUM public.leads: 20 000 dead tuples before, dry-run (PostgresDeadTuplesHigh)",
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
	row := ""
	for _, l := range strings.Split(summary, "\n") {
		if strings.Contains(l, "PostgresDeadTuplesHigh") && !strings.Contains(l, "receiver") && !strings.Contains(l, "VACUUM") {
			row = strings.Join(strings.Fields(l), " ")
		}
	}
	if want := "PostgresDeadTuplesHigh datname=app relname=leads schemaname=public " + deadPending + " " + deadFiring + " -"; row != want {
		t.Errorf("summary row %q, want %q", row, want)
	}
}

func TestGroupDigitsAndClock(t *testing.T) {
	for in, want := range map[string]string{
		"20000 dead tuples before":            "20 000 dead tuples before",
		"1234567 bytes":                       "1 234 567 bytes",
		"pid 22721 (user app)":                "pid 22721 (user app)",
		"5000 changes since the last analyze": "5000 changes since the last analyze",
	} {
		if got := groupDigits(in); got != want {
			t.Errorf("groupDigits(%q) = %q, want %q", in, got, want)
		}
	}
	for d, want := range map[time.Duration]string{0: "0:00", 1500 * time.Millisecond: "0:02", 119 * time.Second: "1:59", -time.Second: "0:00"} {
		if got := clock(d); got != want {
			t.Errorf("clock(%s) = %q, want %q", d, got, want)
		}
	}
}

// The audit log is read line by line as the receiver appends to it; a line
// being written is left for the next read.
func TestAuditTailReadsWholeLines(t *testing.T) {
	_, run := replay(t)
	var lines [][]byte
	for _, rec := range run.Readings[len(run.Readings)-1].Actions.Actions {
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, append(b, '\n'))
	}
	if len(lines) < 3 {
		t.Fatalf("only %d recorded decisions", len(lines))
	}
	path := t.TempDir() + "/" + auditFile
	a := &auditTail{path: path}
	if recs, err := a.read(); err != nil || len(recs) != 0 {
		t.Fatalf("before the receiver wrote anything: %v %v", recs, err)
	}
	half := len(lines[2]) / 2
	write := func(b []byte) {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	write(append(append(append([]byte{}, lines[0]...), lines[1]...), lines[2][:half]...))
	recs, err := a.read()
	if err != nil || len(recs) != 2 || recs[1].Alertname != run.Readings[len(run.Readings)-1].Actions.Actions[1].Alertname {
		t.Fatalf("first read: %d records, %v", len(recs), err)
	}
	write(lines[2][half:])
	recs, err = a.read()
	if err != nil || len(recs) != 1 || !recs[0].Time.Equal(run.Readings[len(run.Readings)-1].Actions.Actions[2].Time) {
		t.Fatalf("second read: %d records, %v", len(recs), err)
	}
}
