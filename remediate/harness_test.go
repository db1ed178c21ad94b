package remediate

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
)

var srv *pgtest.Server

func TestMain(m *testing.M) {
	os.Exit(pgtest.RunMain(m, pgtest.Options{Conf: []string{"max_prepared_transactions = 5"}}, &srv))
}

// harness is one receiver served over HTTP.
type harness struct {
	r     *Receiver
	reg   *prometheus.Registry
	url   string
	audit string
}

func startReceiver(t *testing.T, cfgYAML string) *harness {
	t.Helper()
	return startReceiverOpts(t, cfgYAML, Options{})
}

// startReceiverOpts is startReceiver with options (a clock, for example);
// the registry is always a fresh one.
func startReceiverOpts(t *testing.T, cfgYAML string, opts Options) *harness {
	t.Helper()
	dir := t.TempDir()
	audit := filepath.Join(dir, "audit.jsonl")
	cfg, err := Parse("test.yml", []byte(strings.ReplaceAll(cfgYAML, "AUDIT", audit)))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	opts.Registry = reg
	// httptest serves without authentication; the tests are its only clients.
	opts.Access.TrustedNetwork = true
	r, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(r.Routes(reg, nil))
	t.Cleanup(func() {
		hs.Close()
		r.Close()
		if t.Failed() {
			b, _ := os.ReadFile(audit)
			t.Logf("audit log:\n%s", b)
		}
	})
	return &harness{r: r, reg: reg, url: hs.URL, audit: audit}
}

var startSeq atomic.Int64

// firing makes a firing alert with a fresh startsAt (a new notification).
func firing(labels ...string) Alert {
	l := map[string]string{"instance": "db1:9932", "job": "postgres"}
	for i := 0; i+1 < len(labels); i += 2 {
		l[labels[i]] = labels[i+1]
	}
	a := Alert{Status: "firing", Labels: l, StartsAt: time.Now().Add(time.Duration(startSeq.Add(1)) * time.Millisecond).UTC().Truncate(time.Millisecond)}
	a.Fingerprint = labelsFingerprint(l)
	return a
}

func resolved(a Alert) Alert {
	a.Status = "resolved"
	a.EndsAt = time.Now().UTC()
	return a
}

func payloadOf(alerts ...Alert) []byte {
	b, _ := json.Marshal(Message{Version: "4", Status: alerts[0].Status, Receiver: "remediate", Alerts: alerts})
	return b
}

func (h *harness) post(t *testing.T, body []byte) int {
	t.Helper()
	_, code := h.postBody(t, body)
	return code
}

// postBody posts body to the webhook and returns the answer.
func (h *harness) postBody(t *testing.T, body []byte) (string, int) {
	t.Helper()
	resp, err := http.Post(h.url+WebhookPath, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode
}

func (h *harness) send(t *testing.T, alerts ...Alert) {
	t.Helper()
	if code := h.post(t, payloadOf(alerts...)); code != http.StatusAccepted {
		t.Fatalf("webhook answered %d, want 202", code)
	}
}

// waitRecords waits until n decisions about alertname (all results but
// duplicate/ignored when n counts actions) are in the audit log.
func (h *harness) waitRecords(t *testing.T, n int, match func(Record) bool) []Record {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got []Record
		for _, r := range h.records(t) {
			if match(r) {
				got = append(got, r)
			}
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited for %d matching audit records, have %d", n, len(got))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// records reads the audit log file (not the in-memory history), so the
// tests check what operators read.
func (h *harness) records(t *testing.T) []Record {
	t.Helper()
	f, err := os.Open(h.audit)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("audit line %q is not JSON: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

// forAlert selects the decisions about a, leaving out the duplicates of its
// notification and the records of actions starting.
func forAlert(a Alert) func(Record) bool {
	return func(r Record) bool {
		return r.Fingerprint == a.Fingerprint && r.StartsAt.Equal(a.StartsAt) && r.Result != ResultDuplicate && r.Result != ResultStarted
	}
}

func (h *harness) counter(t *testing.T, action, alertname, result string) float64 {
	t.Helper()
	return testutil.ToFloat64(h.r.m.actions.WithLabelValues(action, alertname, result))
}

// Database fixtures.

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var dbSeq atomic.Int64

// newDatabase creates a database for one test and returns its name.
func newDatabase(t *testing.T) string {
	t.Helper()
	s := pgtest.RequireServer(t, srv)
	name := fmt.Sprintf("app%d", dbSeq.Add(1))
	if err := s.CreateDatabase(ctxT(t), name); err != nil {
		t.Fatal(err)
	}
	return name
}

// deadTable creates public.<name> with autovacuum off and dead rows, and
// waits until the statistics show them.
func deadTable(t *testing.T, db, name string, dead int) {
	t.Helper()
	ctx := ctxT(t)
	id := pgx.Identifier{name}.Sanitize()
	if err := srv.Exec(ctx, db,
		"CREATE TABLE "+id+" (id int PRIMARY KEY, pad text) WITH (autovacuum_enabled = false)",
		fmt.Sprintf("INSERT INTO %s SELECT g, repeat('x', 40) FROM generate_series(1, %d) g", id, dead),
		"DELETE FROM "+id,
	); err != nil {
		t.Fatal(err)
	}
	waitStat(t, db, name, "n_dead_tup", func(v int64) bool { return v >= int64(dead) })
}

func stat(t *testing.T, db, table, col string) int64 {
	t.Helper()
	conn, err := srv.Connect(ctxT(t), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var v int64
	if err := conn.QueryRow(ctxT(t), "SELECT coalesce("+col+", 0)::int8 FROM pg_stat_user_tables WHERE relname = $1", table).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func lastVacuum(t *testing.T, db, table string) *time.Time {
	t.Helper()
	conn, err := srv.Connect(ctxT(t), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var v *time.Time
	if err := conn.QueryRow(ctxT(t), "SELECT last_vacuum FROM pg_stat_user_tables WHERE relname = $1", table).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func waitStat(t *testing.T, db, table, col string, ok func(int64) bool) int64 {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		v := stat(t, db, table, col)
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s.%s %s stayed at %d", db, table, col, v)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// receiverConfig is a receiver config for the test server with the given
// mode and rules.
func receiverConfig(mode, db, rules string) string {
	return fmt.Sprintf(`
mode: %s
audit: {file: AUDIT}
allow:
  databases: ['%s']
  schemas: [public]
  tables: ['public\..*']
  roles: ['app_.*']
targets:
  - name: db1
    match: {instance: "db1:9932"}
    dsn: '%s'
    concurrency: 2
rules:
%s`, mode, db, srv.SuperuserDSN("postgres"), rules)
}
