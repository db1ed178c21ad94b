package backup

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/scrapetest"
)

type collectFunc func(chan<- prometheus.Metric)

func (f collectFunc) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(f, ch) }
func (f collectFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }

// gather collects c through a pedantic registry, which rejects duplicate or
// inconsistent series.
func gather(t *testing.T, c prometheus.Collector) scrapetest.Result {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := scrapetest.Result{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// reportMetrics renders a report as one source's series.
func reportMetrics(t *testing.T, r *Report, now time.Time, retention time.Duration, window int) scrapetest.Result {
	t.Helper()
	return gather(t, collectFunc(func(ch chan<- prometheus.Metric) { r.emit(ch, "src", now, retention, window) }))
}

func value(t *testing.T, r scrapetest.Result, name string, labels map[string]string) float64 {
	t.Helper()
	v, ok := r.Value(name, labels)
	if !ok {
		t.Fatalf("%s%v: want exactly one series\n%s", name, labels, r.String(name))
	}
	return v
}

func absent(t *testing.T, r scrapetest.Result, name string, labels map[string]string) {
	t.Helper()
	if vs := r.Values(name, labels); len(vs) > 0 {
		t.Errorf("%s%v present (%v), want absent", name, labels, vs)
	}
}

func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func labels(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
