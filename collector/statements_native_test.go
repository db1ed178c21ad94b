package collector_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pghardening/pg_hardening_exporter/collector"
	"github.com/pghardening/pg_hardening_exporter/internal/exposition"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/promtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/scrapetest"
)

// TestStatementLatencyNativeHistogramInPrometheus has the current Prometheus
// scrape the statements collector with native histograms on, and checks that
// it stores pg_statement_duration_seconds as a native histogram holding every
// call, and that its P95 falls in the classic bucket that holds the P95 of the
// classic buckets (give or take one native bucket).
func TestStatementLatencyNativeHistogramInPrometheus(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ensureStatements(t, s)
	if err := s.CreateDatabase(ctx, "stmtnative"); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(scrapetest.New(t, s.SuperuserDSN("postgres"), nil, "statements").Collector())
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		exposition.Serve(w, r, reg, nil, nil, promhttp.HandlerOpts{})
	}))
	defer hs.Close()
	prom := promtest.Current().Start(t, promtest.Options{
		Targets:          map[string][]string{"pg": {strings.TrimPrefix(hs.URL, "http://")}},
		NativeHistograms: true,
	})
	// The first scrape sets the baseline; the workload counts from the next.
	if err := prom.WaitFor(ctx, `pg_stat_statements_entries`); err != nil {
		t.Fatal(err)
	}
	const fast, mid, slow = 60, 30, 10
	run(t, s, "stmtnative", fastStmt, fast)
	run(t, s, "stmtnative", "SELECT pg_sleep(0.03)", mid)
	run(t, s, "stmtnative", "SELECT 2 FROM pg_sleep(0.15)", slow)

	const sel = `{datname="stmtnative"}`
	var at time.Time
	for at.IsZero() {
		now := time.Now()
		res, err := prom.QueryAt(ctx, `histogram_count(pg_statement_duration_seconds`+sel+`)`, now)
		if err == nil && len(res) == 1 && res[0].Value == strconv.Itoa(fast+mid+slow) {
			at = now
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no native histogram of %d calls for stmtnative: %v %v", fast+mid+slow, res, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	value := func(q string) float64 {
		t.Helper()
		res, err := prom.QueryAt(ctx, q, at)
		if err != nil || len(res) != 1 {
			t.Fatalf("%s: %v %v", q, res, err)
		}
		v, err := strconv.ParseFloat(res[0].Value, 64)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return v
	}
	if c := value(`pg_statement_duration_seconds_count` + sel); c != fast+mid+slow {
		t.Fatalf("classic count %v beside a native count of %d", c, fast+mid+slow)
	}
	native := value(`histogram_quantile(0.95, pg_statement_duration_seconds` + sel + `)`)
	classic := value(`histogram_quantile(0.95, pg_statement_duration_seconds_bucket` + sel + `)`)
	// The classic bucket the classic estimate lies in.
	lo, hi := 0.0, collector.StatementBuckets[len(collector.StatementBuckets)-1]
	for _, b := range collector.StatementBuckets {
		if b >= classic {
			hi = b
			break
		}
		lo = b
	}
	const width = 1.0905077326652577 // 2^(1/8), one native bucket
	if native <= lo/width || native > hi*width {
		t.Fatalf("P95 native %v, classic %v: the native estimate is outside the classic bucket (%v, %v]", native, classic, lo, hi)
	}
	if classic <= 0.1 || classic > 0.25 {
		t.Fatalf("classic P95 %v, want it among the 0.15 s calls, in (0.1, 0.25]", classic)
	}
	t.Logf("P95: native %.4f s, classic %.4f s (bucket %v..%v)", native, classic, lo, hi)
}
