package collector_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/pghardening/pg_hardening_exporter/collector"
	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/families"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/scrapetest"
)

// ensureStatements installs pg_stat_statements in the postgres database, where
// the statements collector reads it.
func ensureStatements(t *testing.T, s *pgtest.Server) {
	t.Helper()
	if err := s.Exec(context.Background(), "postgres", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
		t.Fatal(err)
	}
}

// histogram returns the pg_statement_duration_seconds buckets (upper bound ->
// cumulative count) and the sample count for datname.
func histogram(t *testing.T, r families.Result, datname string) (map[float64]uint64, uint64) {
	t.Helper()
	mf := r["pg_statement_duration_seconds"]
	if mf == nil {
		t.Fatalf("pg_statement_duration_seconds absent")
	}
	for _, m := range mf.GetMetric() {
		if labelValue(m, "datname") != datname {
			continue
		}
		out := map[float64]uint64{}
		for _, b := range m.GetHistogram().GetBucket() {
			out[b.GetUpperBound()] = b.GetCumulativeCount()
		}
		return out, m.GetHistogram().GetSampleCount()
	}
	return map[float64]uint64{}, 0
}

// checkNative checks the native form of datname's pg_statement_duration_seconds
// against its classic form: the same count and sum, the same zero-free
// observations, and at each classic bound a cumulative count between the native
// buckets wholly below it and those starting below it.
func checkNative(t *testing.T, r families.Result, datname string) {
	t.Helper()
	for _, m := range r["pg_statement_duration_seconds"].GetMetric() {
		if labelValue(m, "datname") != datname {
			continue
		}
		h := m.GetHistogram()
		if h.Schema == nil || h.GetSchema() != collector.NativeSchema {
			t.Fatalf("%s: no native schema %d in %v", datname, collector.NativeSchema, h)
		}
		native := map[int]uint64{}
		idx, cur := 0, int64(0)
		deltas := h.GetPositiveDelta()
		for _, s := range h.GetPositiveSpan() {
			idx += int(s.GetOffset())
			for j := uint32(0); j < s.GetLength(); j++ {
				cur += deltas[0]
				deltas = deltas[1:]
				native[idx] = uint64(cur)
				idx++
			}
		}
		total := h.GetZeroCount()
		for _, n := range native {
			total += n
		}
		if total != h.GetSampleCount() {
			t.Fatalf("%s: native buckets hold %d observations, the count is %d", datname, total, h.GetSampleCount())
		}
		for _, b := range h.GetBucket() {
			below, startBelow := h.GetZeroCount(), h.GetZeroCount()
			for i, n := range native {
				lo, hi := math.Exp2(float64(i-1)/8), math.Exp2(float64(i)/8)
				if hi <= b.GetUpperBound() {
					below += n
				}
				if lo < b.GetUpperBound() {
					startBelow += n
				}
			}
			if c := b.GetCumulativeCount(); c < below || c > startBelow {
				t.Fatalf("%s: le=%v holds %d, native buckets put %d..%d there", datname, b.GetUpperBound(), c, below, startBelow)
			}
		}
		return
	}
	t.Fatalf("no pg_statement_duration_seconds for %s", datname)
}

// checkSlowestExemplar checks that datname's histogram carries, on its native
// form and on the classic bucket of its value, one exemplar naming the queryid
// of slowStmt (the slowest statement of the interval, run calls times).
func checkSlowestExemplar(t *testing.T, r families.Result, datname string, calls float64) {
	t.Helper()
	for _, m := range r["pg_statement_duration_seconds"].GetMetric() {
		if labelValue(m, "datname") != datname {
			continue
		}
		h := m.GetHistogram()
		if len(h.GetExemplars()) != 1 {
			t.Fatalf("%s: native exemplars %v, want one", datname, h.GetExemplars())
		}
		e := h.GetExemplars()[0]
		if e.GetValue() < 0.6 || len(e.GetLabel()) != 1 || e.GetLabel()[0].GetName() != "queryid" {
			t.Fatalf("%s: exemplar %v, want the queryid of a 0.6 s statement", datname, e)
		}
		qid := e.GetLabel()[0].GetValue()
		if got, _ := r.Value("pg_stat_statements_top_calls_total", map[string]string{"datname": datname, "queryid": qid}); got != calls {
			t.Fatalf("%s: exemplar queryid %s has %v calls in the top statements, want %v", datname, qid, got, calls)
		}
		for _, b := range h.GetBucket() {
			if b.GetUpperBound() == 1 && b.GetExemplar().GetValue() != e.GetValue() {
				t.Fatalf("%s: le=1 bucket exemplar %v, want %v", datname, b.GetExemplar(), e)
			}
		}
		return
	}
	t.Fatalf("no pg_statement_duration_seconds for %s", datname)
}

func labelValue(m *dto.Metric, name string) string {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name {
			return lp.GetValue()
		}
	}
	return ""
}

// run executes q n times on db, each as its own top-level statement.
func run(t *testing.T, s *pgtest.Server, db, q string, n int) {
	t.Helper()
	ctx := context.Background()
	conn, err := s.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for i := 0; i < n; i++ {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
}

type latencyCounts struct{ fast, mid, slow, total uint64 }

// delta returns the calls under 0.1 s, between 0.1 and 0.5 s and over 0.5 s
// added between two scrapes.
func delta(t *testing.T, a, b families.Result, db string) latencyCounts {
	t.Helper()
	ba, ca := histogram(t, a, db)
	bb, cb := histogram(t, b, db)
	if cb < ca || bb[0.1] < ba[0.1] || bb[0.5] < ba[0.5] {
		t.Fatalf("histogram went down: %v/%d then %v/%d", ba, ca, bb, cb)
	}
	return latencyCounts{
		fast:  bb[0.1] - ba[0.1],
		mid:   (bb[0.5] - bb[0.1]) - (ba[0.5] - ba[0.1]),
		slow:  (cb - bb[0.5]) - (ca - ba[0.5]),
		total: cb - ca,
	}
}

// The three statements of the workload differ in shape, so pg_stat_statements
// keeps them apart (constants alone would be normalised into one entry).
const (
	fastStmt = "SELECT 1 AS fast"
	midStmt  = "SELECT pg_sleep(0.2)"
	slowStmt = "SELECT 1 FROM pg_sleep(0.6)"
)

func TestStatementLatencyHistogramCountsKnownWorkload(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	ctx := context.Background()
	ensureStatements(t, s)
	if err := s.CreateDatabase(ctx, "stmtwork"); err != nil {
		t.Fatal(err)
	}
	sc := scrapetest.New(t, s.SuperuserDSN("postgres"), nil, "statements")
	base := sc.Scrape(t)
	base.RequireUp(t)

	run(t, s, "stmtwork", fastStmt, 20)
	run(t, s, "stmtwork", midStmt, 3)
	run(t, s, "stmtwork", slowStmt, 2)
	first := sc.Scrape(t)
	first.RequireUp(t)
	if got, want := delta(t, base, first, "stmtwork"), (latencyCounts{fast: 20, mid: 3, slow: 2, total: 25}); got != want {
		t.Fatalf("histogram delta %+v, want %+v", got, want)
	}
	checkNative(t, first, "stmtwork")
	checkSlowestExemplar(t, first, "stmtwork", 2)
	if calls, _ := first.Value("pg_stat_statements_calls_total", map[string]string{"datname": "stmtwork", "usename": "postgres"}); calls < 25 {
		t.Fatalf("calls_total for stmtwork is %v after 25 calls", calls)
	}
	// A scrape right after (a second Prometheus) adds nothing.
	again := sc.Scrape(t)
	if got := delta(t, first, again, "stmtwork"); got.total != 0 {
		t.Fatalf("an immediate second scrape counted %+v again", got)
	}

	// Work that is then reset away, then new work: only the new work counts.
	run(t, s, "stmtwork", slowStmt, 1)
	run(t, s, "stmtwork", fastStmt, 5)
	if err := s.Exec(ctx, "postgres", "SELECT pg_stat_statements_reset()"); err != nil {
		t.Fatal(err)
	}
	run(t, s, "stmtwork", fastStmt, 4)
	run(t, s, "stmtwork", midStmt, 1)
	after := sc.Scrape(t)
	after.RequireUp(t)
	if got, want := delta(t, again, after, "stmtwork"), (latencyCounts{fast: 4, mid: 1, total: 5}); got != want {
		t.Fatalf("after a reset the histogram moved by %+v, want %+v", got, want)
	}
	checkNative(t, after, "stmtwork")
	c1, _ := first.Value("pg_stat_statements_calls_total", map[string]string{"datname": "stmtwork", "usename": "postgres"})
	c2, _ := after.Value("pg_stat_statements_calls_total", map[string]string{"datname": "stmtwork", "usename": "postgres"})
	if c2 != c1+5 {
		t.Fatalf("calls_total went from %v to %v across a reset with 5 new calls", c1, c2)
	}
}

func TestStatementsTopNAndOptInText(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	ctx := context.Background()
	ensureStatements(t, s)
	if err := s.CreateDatabase(ctx, "stmttop"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 12; i++ {
		run(t, s, "stmttop", fmt.Sprintf("SELECT count(*) FROM generate_series(1, %d) AS g%d", 1000, i), 1)
	}
	cfg, err := config.Parse("test.yml", []byte("objects:\n  statements:\n    top_n: 5\n    query_text: true\n    query_text_length: 20\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := scrapetest.New(t, s.SuperuserDSN("postgres"), cfg, "statements").Scrape(t)
	r.RequireUp(t)
	if n := len(r.Values("pg_stat_statements_top_calls_total", nil)); n != 5 {
		t.Fatalf("%d top statements with top_n 5", n)
	}
	mf := r["pg_stat_statements_query_info"]
	if mf == nil || len(mf.GetMetric()) != 5 {
		t.Fatalf("query_info: %v", r.String("pg_stat_statements_query_info"))
	}
	for _, m := range mf.GetMetric() {
		if q := labelValue(m, "query"); len([]rune(q)) > 20 || q == "" {
			t.Fatalf("query text %q is not capped at 20 characters", q)
		}
	}
	// Off by default.
	r = scrapetest.New(t, s.SuperuserDSN("postgres"), nil, "statements").Scrape(t)
	if _, ok := r["pg_stat_statements_query_info"]; ok {
		t.Fatal("query text reported without query_text: true")
	}
}
