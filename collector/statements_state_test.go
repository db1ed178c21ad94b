package collector

import (
	"fmt"
	"math"
	"testing"
	"time"
)

func row(db string, qid int64, calls, execSeconds float64) StmtRow {
	r := StmtRow{Key: StmtKey{DBID: 1, UserID: 10, QueryID: qid}, Datname: db, Usename: "app"}
	r.C[stCalls], r.C[stExecTime] = calls, execSeconds
	return r
}

func buckets(t *testing.T, st *StmtState, db string) map[float64]uint64 {
	t.Helper()
	h := st.Hist[db]
	if h == nil {
		t.Fatalf("no histogram for %s", db)
	}
	cum, count := h.Cumulative()
	out := map[float64]uint64{}
	for i, ub := range StatementBuckets {
		out[ub] = cum[i]
	}
	out[-1] = count
	return out
}

func TestStmtStateWeightsIntervalMeanByCalls(t *testing.T) {
	st := NewStmtState()
	st.Apply([]StmtRow{row("app", 1, 5, 1)}, StmtInfo{})
	if b := buckets(t, st, "app"); b[-1] != 0 {
		t.Fatalf("the baseline scrape observed %d calls", b[-1])
	}
	// 10 new calls taking 2 s in all: 10 observations of 0.2 s.
	st.Apply([]StmtRow{row("app", 1, 15, 3)}, StmtInfo{})
	b := buckets(t, st, "app")
	if b[0.1] != 0 || b[0.25] != 10 || b[-1] != 10 {
		t.Fatalf("buckets %v, want 10 observations in (0.1, 0.25]", b)
	}
	if s := st.Hist["app"].Sum; s < 1.999 || s > 2.001 {
		t.Fatalf("sum %v, want 2", s)
	}
	if c := st.Totals[dbUser{"app", "app"}][stCalls]; c != 15 {
		t.Fatalf("calls total %v, want 15", c)
	}
	// Nothing new: nothing added.
	st.Apply([]StmtRow{row("app", 1, 15, 3)}, StmtInfo{})
	if b := buckets(t, st, "app"); b[-1] != 10 {
		t.Fatalf("an unchanged snapshot added observations: %v", b)
	}
}

func TestStmtStateResetsNeverGoNegativeOrDouble(t *testing.T) {
	cases := []struct {
		name       string
		prev, next StmtRow
		pinfo, inf StmtInfo
		wantCalls  uint64
	}{
		{"calls went down (13, or an evicted entry re-created)", row("a", 1, 100, 10), row("a", 1, 4, 0.4), StmtInfo{}, StmtInfo{}, 4},
		{"stats_reset moved (14+)", row("a", 1, 100, 10), row("a", 1, 120, 12), StmtInfo{Known: true, Reset: 1}, StmtInfo{Known: true, Reset: 2}, 120},
		{"new entry after the baseline", row("a", 2, 100, 10), row("a", 1, 7, 0.7), StmtInfo{}, StmtInfo{}, 7},
		{"plain growth", row("a", 1, 100, 10), row("a", 1, 107, 10.7), StmtInfo{}, StmtInfo{}, 7},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := NewStmtState()
			st.Apply([]StmtRow{c.prev}, c.pinfo)
			st.Apply([]StmtRow{c.next}, c.inf)
			if b := buckets(t, st, "a"); b[-1] != c.wantCalls {
				t.Fatalf("observed %d calls, want %d", b[-1], c.wantCalls)
			}
		})
	}
}

func TestStmtStateStatsSinceMarksRecreatedEntries(t *testing.T) {
	st := NewStmtState()
	a := row("a", 1, 100, 10)
	a.Since, a.hasSince = 1000, true
	st.Apply([]StmtRow{a}, StmtInfo{Known: true})
	// Evicted and re-created with more calls than before: without
	// stats_since this would look like 50 new calls; it is 150.
	b := row("a", 1, 150, 15)
	b.Since, b.hasSince = 2000, true
	st.Apply([]StmtRow{b}, StmtInfo{Known: true, Dealloc: 1})
	if got := buckets(t, st, "a")[-1]; got != 150 {
		t.Fatalf("observed %d calls after re-creation, want 150", got)
	}
	if c := st.Totals[dbUser{"a", "app"}][stCalls]; c != 250 {
		t.Fatalf("calls total %v, want 100 + 150", c)
	}
}

func TestLatencyBucketsHoldSpecThresholds(t *testing.T) {
	has := map[float64]bool{}
	for _, b := range StatementBuckets {
		has[b] = true
	}
	if !has[0.1] || !has[0.5] {
		t.Fatalf("buckets %v lack 0.1 or 0.5", StatementBuckets)
	}
	h := newLatencyHistogram()
	h.observe(0.1, 1, 0.1)   // on the bound: counted in le=0.1
	h.observe(0.5, 1, 0.5)   // le=0.5
	h.observe(0.501, 1, 0.5) // le=1
	h.observe(60, 1, 60)     // +Inf
	cum, count := h.Cumulative()
	if cum[5] != 1 || cum[7] != 2 || cum[8] != 3 || count != 4 {
		t.Fatalf("cumulative %v count %d", cum, count)
	}
}

// BenchmarkStmtStateApply folds a snapshot of 5 000 statements, every one of
// them with new calls, into the state: the per-scrape cost of the delta logic.
func BenchmarkStmtStateApply(b *testing.B) {
	const n = 5000
	snaps := [2][]StmtRow{make([]StmtRow, n), make([]StmtRow, n)}
	for i := 0; i < n; i++ {
		db := fmt.Sprintf("db%d", i%10)
		snaps[0][i] = row(db, int64(i), float64(i), float64(i)*0.01)
		snaps[1][i] = row(db, int64(i), float64(i+3), float64(i)*0.01+0.003*float64(i%1000))
	}
	st := NewStmtState()
	st.Apply(snaps[0], StmtInfo{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st.Apply(snaps[(i+1)%2], StmtInfo{})
	}
}

func TestNativeIndexBounds(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want int
	}{
		{1, 0},                    // upper bound of bucket 0
		{math.Nextafter(1, 2), 1}, // just above: next bucket
		{0.5, -8},                 // 2^-1 is the upper bound of bucket -8
		{math.Exp2(-7.0 / 8), -7}, // a bound inside a power of two
		{math.Exp2(-7.0/8) * 1.001, -6},
		{0.1, -26}, // 2^(-27/8) = 0.0964 < 0.1 <= 2^(-26/8) = 0.1051
		{2, 8},
		{3, 13}, // 2^(12/8) = 2.83 < 3 <= 2^(13/8) = 3.08
	} {
		if got := NativeIndex(c.v); got != c.want {
			t.Errorf("NativeIndex(%v) = %d, want %d", c.v, got, c.want)
		}
		// The bucket's bounds, from the schema's definition, hold v.
		i := NativeIndex(c.v)
		lo, hi := math.Exp2(float64(i-1)/8), math.Exp2(float64(i)/8)
		if !(c.v > lo*(1-1e-12) && c.v <= hi*(1+1e-12)) {
			t.Errorf("%v is outside bucket %d (%v, %v]", c.v, i, lo, hi)
		}
	}
}

func TestLatencyHistogramNativeMatchesClassic(t *testing.T) {
	h := newLatencyHistogram()
	h.observe(0.0004, 7, 0.0028)
	h.observe(0.2, 10, 2)
	h.observe(0.2001, 2, 0.4002)
	h.observe(3, 1, 3)
	h.observe(0, 4, 0)
	_, count := h.Cumulative()
	total := int64(h.Zero)
	for _, n := range h.Native {
		total += n
	}
	if uint64(total) != count || count != 24 {
		t.Fatalf("native holds %d observations, classic %d, want 24", total, count)
	}
	if h.Zero != 4 || h.Native[NativeIndex(0.2)] != 12 || h.Native[13] != 1 {
		t.Fatalf("native buckets %v zero %d", h.Native, h.Zero)
	}
}

func TestStmtStateSlowestOfInterval(t *testing.T) {
	st := NewStmtState()
	st.Apply([]StmtRow{row("a", 1, 10, 1), row("a", 2, 1, 0.1)}, StmtInfo{})
	// Statement 1: 10 calls of 0.05 s; statement 2: 2 calls of 0.3 s.
	st.Apply([]StmtRow{row("a", 1, 20, 1.5), row("a", 2, 3, 0.7)}, StmtInfo{})
	if got, want := st.Hist["a"].Slowest, (SlowestStmt{QueryID: 2, Mean: 0.3, Calls: 2}); got.QueryID != want.QueryID || got.Calls != want.Calls || math.Abs(got.Mean-want.Mean) > 1e-9 {
		t.Fatalf("slowest %+v, want %+v", got, want)
	}
	// No new calls: no slowest statement.
	st.Apply([]StmtRow{row("a", 1, 20, 1.5), row("a", 2, 3, 0.7)}, StmtInfo{})
	if got := st.Hist["a"].Slowest; got.Calls != 0 {
		t.Fatalf("slowest %+v after an interval without calls", got)
	}
}

// Users and databases come and go (short-lived credentials, test
// databases): the totals of a user and the histogram of a database that
// pg_stat_statements has had no entry of for an hour are forgotten, so the
// state and the series stay bounded by what the server has had lately.
// Shorter absences (a reset, an eviction) keep them, and monotonic.
func TestStmtStateForgetsUsersAndDatabasesGoneForAnHour(t *testing.T) {
	st := NewStmtState()
	now := time.Unix(1_700_000_000, 0)
	st.now = func() time.Time { return now }
	user := func(db, name string, qid int64, calls float64) StmtRow {
		r := row(db, qid, calls, calls/10)
		r.Usename, r.Key.UserID = name, uint32(1000+qid)
		return r
	}
	for i := range 200 {
		st.Apply([]StmtRow{user("app", "keep", 1, float64(10+i)), user(fmt.Sprintf("tmp_db_%d", i), fmt.Sprintf("vault_%d", i), int64(2+i), 5)}, StmtInfo{})
		now = now.Add(time.Minute)
	}
	if n := len(st.Totals); n > 62 {
		t.Errorf("%d users' totals kept after 200 one-scrape users over 200 minutes, want only those seen in the last hour", n)
	}
	if n := len(st.Hist); n > 62 {
		t.Errorf("%d databases' histograms kept, want only those seen in the last hour", n)
	}
	// A full reset empties pg_stat_statements for a while: the totals stay.
	st.Apply(nil, StmtInfo{})
	now = now.Add(30 * time.Minute)
	st.Apply([]StmtRow{user("app", "keep", 1, 3)}, StmtInfo{})
	if c := st.Totals[dbUser{"app", "keep"}]; c == nil || c[stCalls] != 209+3 {
		t.Fatalf("totals after a reset and 30 minutes: %v, want 209 + 3 calls", c)
	}
	if st.Hist["app"] == nil {
		t.Fatal("the histogram of a database with entries was forgotten")
	}
}
